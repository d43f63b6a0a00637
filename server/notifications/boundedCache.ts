import { LRUCache } from 'lru-cache';

export interface BoundedCacheOptions {
  /** Entries kept at most; past it the least recently used one is dropped. */
  max: number;
  /** How long an entry lives after it was last set; reading it does not extend it. */
  ttlMs: number;
  /**
   * The clock in ms, for tests (lru-cache's `perf`); `performance.now` otherwise.
   * Never 0: lru-cache takes an entry set at 0 for one without a ttl.
   */
  now?: () => number;
  /** How often expired entries are swept; the ttl, at most a minute, by default. */
  sweepIntervalMs?: number;
}

export interface BoundedCache<V extends {}> {
  cache: LRUCache<string, V>;
  /** Stops the sweeper. */
  stop(): void;
}

/**
 * A per-user map of one process that cannot grow without limit: at most `max`
 * entries, each expiring `ttlMs` after it was last set. lru-cache only drops an
 * expired entry when it is read or pushed out, so one timer sweeps them too,
 * and the size reported in stats falls back to what is alive. (Its own
 * `ttlAutopurge` would start a timer per entry.)
 */
export function createBoundedCache<V extends {}>(opts: BoundedCacheOptions): BoundedCache<V> {
  const cache = new LRUCache<string, V>({
    max: opts.max,
    ttl: opts.ttlMs,
    updateAgeOnGet: false,
    // Exact expiry: the clock is read at each check rather than once per millisecond,
    // so an injected clock is seen at once.
    ttlResolution: 0,
    ...(opts.now ? { perf: { now: opts.now } } : {}),
  });
  const sweeper = setInterval(() => cache.purgeStale(), opts.sweepIntervalMs ?? Math.min(opts.ttlMs, 60_000));
  sweeper.unref();
  return { cache, stop: () => clearInterval(sweeper) };
}
