/**
 * The per-user connection limit (MAX_CONNECTIONS_PER_USER). With Redis it
 * holds across every node sharing the store.
 */
export interface UserConnectionCounter {
  /** Counts the connection for its user; false (and nothing counted) when the user is at the limit. Idempotent. */
  acquire(userId: string, connectionId: string): Promise<boolean>;
  /** Stops counting the connection. Idempotent. */
  release(userId: string, connectionId: string): Promise<void>;
  /**
   * Forgets every lease of the user (admin.eraseUser, once their connections
   * are being closed); returns how many records went (connection leases in
   * memory, the user's key with Redis).
   */
  eraseUser(userId: string): Promise<number>;
  /** Sizes of what this process holds: the users and connections it counts. */
  stats(): { users: number; connections: number };
  /** Stops any background work; the connections still counted are not released. */
  close(): Promise<void>;
}

/** One process's count: a set of connection ids per user. */
export class MemoryConnectionCounter implements UserConnectionCounter {
  private readonly byUser = new Map<string, Set<string>>();
  private connections = 0;

  constructor(private readonly maxPerUser: number) {}

  async acquire(userId: string, connectionId: string): Promise<boolean> {
    let set = this.byUser.get(userId);
    if (set?.has(connectionId)) return true;
    if (set && set.size >= this.maxPerUser) return false;
    if (!set) {
      set = new Set();
      this.byUser.set(userId, set);
    }
    set.add(connectionId);
    this.connections++;
    return true;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    const set = this.byUser.get(userId);
    if (!set?.delete(connectionId)) return;
    this.connections--;
    if (set.size === 0) this.byUser.delete(userId);
  }

  async eraseUser(userId: string): Promise<number> {
    const set = this.byUser.get(userId);
    if (!set) return 0;
    this.byUser.delete(userId);
    this.connections -= set.size;
    return set.size;
  }

  stats() {
    return { users: this.byUser.size, connections: this.connections };
  }

  async close(): Promise<void> {}
}
