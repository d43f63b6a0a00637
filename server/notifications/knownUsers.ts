import { createBoundedCache } from './boundedCache';

/**
 * Users seen recently (authenticated within the notification retention), so a
 * broadcast reaches the offline ones too. Bounded: past `maxUsers` the least
 * recently seen are dropped, and entries expire with the retention.
 */
export interface KnownUsers {
  /** Marks the user seen now. */
  touch(userId: string): Promise<void>;
  /** The users seen within the retention, on any node sharing the store. */
  list(): Promise<string[]>;
  /** Forgets the user (admin.eraseUser); 1 when they were known, else 0. */
  erase(userId: string): Promise<number>;
  /** Sizes of what this process holds (a shared store holds nothing). */
  stats(): { knownUsers: number };
  close(): Promise<void>;
}

export interface KnownUsersOptions {
  ttlMs: number;
  maxUsers: number;
}

export class MemoryKnownUsers implements KnownUsers {
  private readonly seen;

  constructor(opts: KnownUsersOptions & { now?: () => number }) {
    this.seen = createBoundedCache<true>({ max: opts.maxUsers, ttlMs: opts.ttlMs, now: opts.now });
  }

  async touch(userId: string) {
    // Setting again restarts the user's ttl and makes them the most recently seen.
    this.seen.cache.set(userId, true);
  }

  async list(): Promise<string[]> {
    // Iteration also yields entries past their ttl that were not swept yet.
    this.seen.cache.purgeStale();
    return [...this.seen.cache.rkeys()];
  }

  async erase(userId: string): Promise<number> {
    return this.seen.cache.delete(userId) ? 1 : 0;
  }

  stats() {
    return { knownUsers: this.seen.cache.size };
  }

  async close() {
    this.seen.stop();
  }
}
