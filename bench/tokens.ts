import { issueToken } from '../server/auth/issueToken';

/**
 * Tokens for the load generator: the server's own issueToken (jose, HS256),
 * imported alone so the generator's processes do not load the server. One
 * user per connection, allowed to watch every investigation.
 */
export function signToken(secret: string, userId: string): Promise<string> {
  return issueToken(secret, { sub: userId, investigations: ['*'] }, { expiresInSeconds: 2 * 3600 });
}

export const userIdOf = (index: number) => `u${index}`;
