import { jwtVerify } from 'jose';

/**
 * How the peers authenticate: an HS256 JWT verified with jose, `exp` and `sub`
 * required, as our server does, so the connect storm prices verification the
 * same for everyone. Resolves to the user id, or null for a bad token.
 */
export function createVerifier(secret: string) {
  const key = new TextEncoder().encode(secret);
  return async (token: unknown): Promise<string | null> => {
    if (typeof token !== 'string' || token.length === 0) return null;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] });
      return payload.sub ?? null;
    } catch {
      return null;
    }
  };
}
