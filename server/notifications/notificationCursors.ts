import { compareEventIds } from '../../shared/eventId';
import { createBoundedCache } from './boundedCache';

/**
 * Per user, the id of the last notification delivered to them, so a new
 * subscription without `lastEventId` starts after it (what arrived while they
 * were offline comes first, once). A cursor outlives the connections that moved
 * it: it expires `ttlMs` after its last advance, like the notifications it
 * points into.
 */
export interface NotificationCursors {
  /** The user's cursor, or null (never set, or expired). */
  get(userId: string): Promise<string | null>;
  /**
   * Moves the cursor to `id` when it is newer (numeric `<ms>-<seq>` order): two
   * connections of one user race here, and the newest wins. Either way the
   * expiry starts again.
   */
  advance(userId: string, id: string): Promise<void>;
  /** Forgets the user's cursor (admin.eraseUser); 1 when there was one, else 0. */
  erase(userId: string): Promise<number>;
  /** Sizes of what this process holds (a shared store holds nothing). */
  stats(): { notificationCursors: number };
  close(): Promise<void>;
}

export interface NotificationCursorsOptions {
  ttlMs: number;
  /** Cursors one process keeps at most (memory only); past it the least recently used go. */
  maxUsers: number;
}

export class MemoryNotificationCursors implements NotificationCursors {
  private readonly cursors;

  constructor(opts: NotificationCursorsOptions & { now?: () => number }) {
    this.cursors = createBoundedCache<string>({ max: opts.maxUsers, ttlMs: opts.ttlMs, now: opts.now });
  }

  async get(userId: string): Promise<string | null> {
    return this.cursors.cache.get(userId) ?? null;
  }

  async advance(userId: string, id: string): Promise<void> {
    const current = this.cursors.cache.get(userId);
    const newest = current !== undefined && compareEventIds(current, id) >= 0 ? current : id;
    this.cursors.cache.set(userId, newest);
  }

  async erase(userId: string): Promise<number> {
    return this.cursors.cache.delete(userId) ? 1 : 0;
  }

  stats() {
    return { notificationCursors: this.cursors.cache.size };
  }

  async close(): Promise<void> {
    this.cursors.stop();
  }
}
