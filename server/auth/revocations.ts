import { createHash } from 'node:crypto';
import { type BoundedCacheOptions, createBoundedCache } from '../notifications/boundedCache';

/**
 * Operator revocations (admin.revokeAccess, admin.revokeToken), kept for
 * `lifetimeMs` (MAX_TOKEN_LIFETIME_SECONDS plus the clock skew verifyToken
 * allows): after that every token issued before a revocation has expired, so
 * the record decides nothing any more. Two implementations: this process's
 * memory (bounded) and Redis (redisRevocations.ts, shared by every node).
 *
 * Records name users by `userTag(userId)`, a hash, never by the id itself: a
 * record may outlive the user's erasure (admin.eraseUser), and must not keep
 * their id.
 */
export interface Revocations {
  /**
   * Records that `userId` lost access to `resource` (a topic name,
   * `investigation:<id>` or `analysis:<id>`) at `atMs`: tokens issued at or
   * before it are refused for that resource. A later revocation replaces an
   * earlier one.
   */
  revokeAccess(userId: string, resource: string, atMs: number): Promise<void>;
  /** When `userId`'s access to `resource` was last revoked (ms), or null. */
  accessRevokedAt(userId: string, resource: string): Promise<number | null>;
  /** Records the token `jti` as revoked. */
  revokeToken(jti: string): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;
  /** Sizes of what this process holds (a shared store holds nothing). */
  stats(): { revokedAccess: number; revokedTokens: number };
  close(): Promise<void>;
}

export interface RevocationsOptions {
  /** How long a record lives (ms): the longest a token may live, plus clock skew. */
  lifetimeMs: number;
  /** Records of each kind one process keeps at most (memory only); past it the least recently set go. */
  maxRecords?: number;
}

/** The clock skew verifyToken allows an issuer (s): a token may live this much past MAX_TOKEN_LIFETIME_SECONDS from our point of view. */
export const REVOCATION_SKEW_SECONDS = 60;

/** A user's stable, non-reversible tag in revocation records: 16 bytes of SHA-256, base64url. */
export function userTag(userId: string): string {
  return createHash('sha256').update(`realtime-revocation:${userId}`).digest().subarray(0, 16).toString('base64url');
}

/**
 * Access revocations held by one process, `<userTag> <resource>` → the latest
 * revocation time (ms), bounded: the memory store's records, and what a node
 * heard on the control channel (adminService). Looked up for every
 * subscription, so the user's tag (a hash) is computed only while some
 * revocation is held.
 */
export function createAccessRevocationCache(opts: BoundedCacheOptions) {
  const { cache, stop } = createBoundedCache<number>(opts);
  const keyOf = (userId: string, resource: string) => `${userTag(userId)} ${resource}`;
  return {
    /** A later revocation replaces an earlier one; an earlier one changes nothing. */
    revoke(userId: string, resource: string, atMs: number) {
      const key = keyOf(userId, resource);
      const current = cache.get(key);
      cache.set(key, current === undefined ? atMs : Math.max(current, atMs));
    },
    revokedAt(userId: string, resource: string): number | null {
      if (cache.size === 0) return null;
      return cache.get(keyOf(userId, resource)) ?? null;
    },
    get size() {
      return cache.size;
    },
    stop,
  };
}

const DEFAULT_MAX_RECORDS = 100_000;

/**
 * One process's revocations (no Redis: one node). Bounded: past `maxRecords`
 * the least recently set record of a kind is dropped (a revocation that old,
 * on a node with that many, is the price of a bounded memory).
 */
export class MemoryRevocations implements Revocations {
  private readonly access;
  private readonly tokens;

  constructor(opts: RevocationsOptions & { now?: () => number }) {
    const cache = { max: opts.maxRecords ?? DEFAULT_MAX_RECORDS, ttlMs: opts.lifetimeMs, now: opts.now };
    this.access = createAccessRevocationCache(cache);
    this.tokens = createBoundedCache<true>(cache);
  }

  async revokeAccess(userId: string, resource: string, atMs: number): Promise<void> {
    this.access.revoke(userId, resource, atMs);
  }

  async accessRevokedAt(userId: string, resource: string): Promise<number | null> {
    return this.access.revokedAt(userId, resource);
  }

  async revokeToken(jti: string): Promise<void> {
    this.tokens.cache.set(jti, true);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.tokens.cache.get(jti) === true;
  }

  stats() {
    return { revokedAccess: this.access.size, revokedTokens: this.tokens.cache.size };
  }

  async close(): Promise<void> {
    this.access.stop();
    this.tokens.stop();
  }
}
