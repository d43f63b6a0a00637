import { SignJWT } from 'jose';
import { secretKey } from './verifyToken';

export interface TokenClaims {
  sub: string;
  roles?: string[];
  investigations?: string[];
  analyses?: string[];
}

/**
 * Signs an HS256 token. The server never needs it to run; `npm start` uses it
 * for the development tokens it prints, and tests for their users.
 */
export async function issueToken(
  secret: string,
  claims: TokenClaims,
  opts: { expiresInSeconds?: number; expiresAt?: number } = {},
): Promise<string> {
  const { sub, ...rest } = claims;
  const exp = opts.expiresAt ?? Math.floor(Date.now() / 1000) + (opts.expiresInSeconds ?? 3600);
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(secretKey(secret));
}
