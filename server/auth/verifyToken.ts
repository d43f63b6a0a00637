import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { type ApiError, apiError } from '../errors';
import type { Principal } from './principal';

const claimsSchema = z.object({
  sub: z.string().min(1).max(128),
  exp: z.number(),
  roles: z.array(z.string().max(64)).max(32).optional(),
  investigations: z.array(z.string().max(128)).max(10_000).optional(),
  analyses: z.array(z.string().max(128)).max(10_000).optional(),
});

export type TokenResult = { ok: true; principal: Principal } | { ok: false; error: ApiError };

/**
 * Verifies an HS256 JWT with jose. `exp` is required and `sub` is the user id;
 * roles default to `user`. Never throws: a bad token is a value. `now` is the
 * server's clock (see server/clock.ts), so expiry is judged by the same time
 * that arms the connection's expiry timer.
 */
export async function verifyToken(token: string | null | undefined, key: Uint8Array, now: number = Date.now()): Promise<TokenResult> {
  if (!token) return { ok: false, error: apiError('token_missing') };
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], currentDate: new Date(now) });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) return { ok: false, error: apiError('token_invalid', 'claims do not match the contract') };
    const c = claims.data;
    return {
      ok: true,
      principal: {
        userId: c.sub,
        roles: new Set(c.roles?.length ? c.roles : ['user']),
        investigations: new Set(c.investigations ?? []),
        analyses: new Set(c.analyses ?? []),
        expiresAt: c.exp * 1000,
      },
    };
  } catch (cause) {
    if (cause instanceof joseErrors.JWTExpired) return { ok: false, error: apiError('token_expired') };
    return { ok: false, error: apiError('token_invalid') };
  }
}

export function secretKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}
