import { type CompactJWSHeaderParameters, type JWTPayload, type JWTVerifyOptions, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { type ApiError, apiError } from '../errors';
import type { Principal } from './principal';
import type { TokenKeys } from './tokenKeys';

const claimsSchema = z.object({
  sub: z.string().min(1).max(128),
  exp: z.number(),
  iat: z.number().optional(),
  jti: z.string().min(1).max(256).optional(),
  roles: z.array(z.string().max(64)).max(32).optional(),
  investigations: z.array(z.string().max(128)).max(10_000).optional(),
  analyses: z.array(z.string().max(128)).max(10_000).optional(),
});

type Claims = z.infer<typeof claimsSchema>;

/** How far ahead of the server's clock an issuer's clock may be (`iat`, and `exp` of a token without `iat`). */
const CLOCK_SKEW_SECONDS = 60;

export type TokenResult = { ok: true; principal: Principal } | { ok: false; error: ApiError };

/** Thrown by the key resolver: jose hands a resolver's exception back as is. */
class UnknownKeyId extends Error {}

/**
 * Verifies an HS256 JWT with jose against the keys of JWT_SECRET. `exp` is
 * required and `sub` is the user id; roles default to `user`. A token lives at
 * most `keys.maxLifetimeSeconds`, and its `iat` is not in the future. Never
 * throws: a bad token is a value. `now` is the server's clock (see
 * server/clock.ts), so expiry is judged by the same time that arms the
 * connection's expiry timer.
 */
export async function verifyToken(token: string | null | undefined, keys: TokenKeys, now: number = Date.now()): Promise<TokenResult> {
  if (!token) return { ok: false, error: apiError('token_missing') };
  const signed = await verifySignature(token, keys, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], currentDate: new Date(now) });
  if (!signed.ok) return signed;
  const claims = claimsSchema.safeParse(signed.payload);
  if (!claims.success) return { ok: false, error: apiError('token_invalid', 'claims do not match the contract') };
  const c = claims.data;
  const refusal = lifetimeRefusal(c, now / 1000, keys.maxLifetimeSeconds);
  if (refusal) return { ok: false, error: apiError('token_invalid', refusal) };
  return {
    ok: true,
    principal: {
      userId: c.sub,
      roles: new Set(c.roles?.length ? c.roles : ['user']),
      investigations: new Set(c.investigations ?? []),
      analyses: new Set(c.analyses ?? []),
      expiresAt: c.exp * 1000,
      issuedAt: c.iat === undefined ? 0 : c.iat * 1000,
      jti: c.jti ?? null,
    },
  };
}

/**
 * The HMAC key of a secret, imported once: handed the raw bytes, jose imports
 * a CryptoKey for every token it verifies, a fifth of what a connection's
 * authentication costs.
 */
const verifyKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function verifyKeyOf(bytes: Uint8Array): Promise<CryptoKey> {
  let key = verifyKeys.get(bytes);
  if (!key) {
    key = crypto.subtle.importKey('raw', new Uint8Array(bytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    verifyKeys.set(bytes, key);
  }
  return key;
}

/**
 * Signature and registered claims (jose). A token naming its key (`kid`) is
 * checked against that key only, and refused when no key of JWT_SECRET has
 * that id; a token without `kid` (an issuer that does not set it, a token from
 * before key ids) is tried against each key in turn: at most MAX_JWT_KEYS.
 */
async function verifySignature(
  token: string,
  { keys, byKid }: TokenKeys,
  options: JWTVerifyOptions,
): Promise<{ ok: true; payload: JWTPayload } | { ok: false; error: ApiError }> {
  for (const candidate of keys) {
    let named = false;
    const resolveKey = (header: CompactJWSHeaderParameters) => {
      if (header.kid === undefined) return verifyKeyOf(candidate.key);
      named = true;
      const key = byKid.get(header.kid);
      if (!key) throw new UnknownKeyId();
      return verifyKeyOf(key);
    };
    try {
      return { ok: true, payload: (await jwtVerify(token, resolveKey, options)).payload };
    } catch (cause) {
      // Only a signature that another key may match is worth another try.
      if (!named && cause instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      return { ok: false, error: refusalOf(cause) };
    }
  }
  return { ok: false, error: apiError('token_invalid') };
}

function refusalOf(cause: unknown): ApiError {
  if (cause instanceof joseErrors.JWTExpired) return apiError('token_expired');
  if (cause instanceof UnknownKeyId) return apiError('token_invalid', 'signed with a key this server does not know (kid)');
  return apiError('token_invalid');
}

/**
 * Why a token that is otherwise valid lives too long, or null. Without `iat`
 * its life is counted from now: a token that claims to outlive the bound from
 * here on is refused however old it is.
 */
function lifetimeRefusal(c: Claims, nowSeconds: number, maxSeconds: number): string | null {
  if (c.iat !== undefined && c.iat > nowSeconds + CLOCK_SKEW_SECONDS) return 'issued in the future (iat)';
  const lifetime = c.iat === undefined ? c.exp - nowSeconds - CLOCK_SKEW_SECONDS : c.exp - c.iat;
  if (lifetime > maxSeconds) return `it lives longer than MAX_TOKEN_LIFETIME_SECONDS (${maxSeconds} s)`;
  return null;
}
