import type { AppServices } from '../app';
import { apiError } from '../errors';
import { type TokenResult, verifyToken } from './verifyToken';

/**
 * A token as every transport authenticates it (WebSocket at connect, HTTP per
 * request): verified (verifyToken.ts), then refused as `token_revoked` when
 * an operator revoked its `jti` (admin.revokeToken): this node's cache of the
 * broadcasts first, then one read of the revocation store.
 */
export async function authenticateToken(
  app: Pick<AppServices, 'jwtKey' | 'clock' | 'admin'>,
  token: string | null | undefined,
): Promise<TokenResult> {
  const verified = await verifyToken(token, app.jwtKey, app.clock.now());
  if (!verified.ok) return verified;
  const { jti } = verified.principal;
  if (jti !== null && (await app.admin.isTokenRevoked(jti))) return { ok: false, error: apiError('token_revoked') };
  return verified;
}
