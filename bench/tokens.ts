import { SignJWT } from 'jose';

/**
 * HS256 tokens for the load generator, signed with jose like our issueToken
 * (which would pull the whole server into the generator's processes). One user
 * per connection, allowed to watch every investigation.
 */
export async function signToken(secret: string, userId: string): Promise<string> {
  return new SignJWT({ investigations: ['*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

export const userIdOf = (index: number) => `u${index}`;
