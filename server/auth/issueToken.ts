import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { jwtKeys } from '../config';
import { keyBytes, keyId } from './tokenKeys';

export interface TokenClaims {
  sub: string;
  roles?: string[];
  investigations?: string[];
  analyses?: string[];
}

/**
 * Signs an HS256 token with the first key of `secret` (JWT_SECRET's form: one
 * key, or several comma-separated), with `iat` and a random `jti`, and names
 * that key in the `kid` header, so
 * the server checks it against that key alone. The server never needs it to
 * run; `npm start` uses it for the development tokens it prints, and tests for
 * their users. It signs whatever lifetime it is asked for: the bound
 * (MAX_TOKEN_LIFETIME_SECONDS) is the verifier's.
 */
export async function issueToken(
  secret: string,
  claims: TokenClaims,
  opts: { expiresInSeconds?: number; expiresAt?: number } = {},
): Promise<string> {
  const [signing] = jwtKeys(secret);
  if (signing === undefined) throw new Error('issueToken: the secret holds no key');
  const { sub, ...rest } = claims;
  const now = Math.floor(Date.now() / 1000);
  const exp = opts.expiresAt ?? now + (opts.expiresInSeconds ?? 3600);
  return (
    new SignJWT(rest)
      .setProtectedHeader({ alg: 'HS256', kid: keyId(signing) })
      .setSubject(sub)
      // A token's own id: what an operator names to revoke that one token.
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(keyBytes(signing))
  );
}
