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
  /** Sizes of what this process holds (a shared store holds nothing). */
  stats(): { knownUsers: number };
  close(): Promise<void>;
}

export interface KnownUsersOptions {
  ttlMs: number;
  maxUsers: number;
}

export class MemoryKnownUsers implements KnownUsers {
  private readonly lastSeen = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: KnownUsersOptions & { now?: () => number }) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.ttlMs, 60_000));
    this.sweeper.unref();
  }

  private now() {
    return this.opts.now?.() ?? Date.now();
  }

  async touch(userId: string) {
    // Re-inserting keeps the Map in least-recently-seen order.
    this.lastSeen.delete(userId);
    this.lastSeen.set(userId, this.now());
    if (this.lastSeen.size > this.opts.maxUsers) {
      const oldest = this.lastSeen.keys().next().value;
      if (oldest !== undefined) this.lastSeen.delete(oldest);
    }
  }

  async list(): Promise<string[]> {
    const since = this.now() - this.opts.ttlMs;
    return [...this.lastSeen].filter(([, at]) => at > since).map(([id]) => id);
  }

  sweep() {
    const since = this.now() - this.opts.ttlMs;
    for (const [id, at] of this.lastSeen) {
      if (at > since) break;
      this.lastSeen.delete(id);
    }
  }

  stats() {
    return { knownUsers: this.lastSeen.size };
  }

  async close() {
    clearInterval(this.sweeper);
  }
}
