import { createHash } from 'node:crypto';
import { ConfigError, jwtKeys } from '../config';

/**
 * Keys a token without `kid` is tried against, at most: the current key and a
 * few being retired. Each try is an HMAC over the whole token, so a list with
 * no bound would let one forged token cost the server as many.
 */
export const MAX_JWT_KEYS = 4;

interface TokenKey {
  /** `keyId` of the key: what `issueToken` puts in the `kid` header. */
  kid: string;
  key: Uint8Array;
}

/**
 * What `verifyToken` checks a token against: the keys of JWT_SECRET (the
 * first signs, every one verifies) and the longest lifetime a token may have.
 * The bound travels with the keys so that every caller of `verifyToken` (the
 * WebSocket and the HTTP transports) applies the same one.
 */
export interface TokenKeys {
  /** In JWT_SECRET's order: the signing key first. */
  keys: readonly TokenKey[];
  byKid: ReadonlyMap<string, Uint8Array>;
  /** MAX_TOKEN_LIFETIME_SECONDS: `exp` at most this far past `iat` (or past now without `iat`). */
  maxLifetimeSeconds: number;
}

/**
 * The key id of a secret: the first 8 bytes of its SHA-256, base64url (11
 * characters), so an issuer in any language can compute it (README,
 * Authentication). It tells nothing a token signed with the key does not.
 */
export function keyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest().subarray(0, 8).toString('base64url');
}

export function keyBytes(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** The keys of `jwtSecret` (comma-separated, see config.ts) and the lifetime bound. */
export function tokenKeys(jwtSecret: string, maxLifetimeSeconds: number): TokenKeys {
  const secrets = [...new Set(jwtKeys(jwtSecret))];
  if (secrets.length === 0) throw new ConfigError('JWT_SECRET: at least one key is required');
  if (secrets.length > MAX_JWT_KEYS) {
    throw new ConfigError(`JWT_SECRET: at most ${MAX_JWT_KEYS} keys (the signing key and those being retired), got ${secrets.length}`);
  }
  const keys = secrets.map((secret) => ({ kid: keyId(secret), key: keyBytes(secret) }));
  return { keys, byKid: new Map(keys.map(({ kid, key }) => [kid, key])), maxLifetimeSeconds };
}
