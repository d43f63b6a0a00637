/**
 * Users seen recently (authenticated within the notification retention), so a
 * broadcast reaches the offline ones too. Bounded: the oldest are dropped past
 * `maxUsers`, and entries expire with the retention.
 */
export class KnownUsers {
  private readonly lastSeen = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: { ttlMs: number; maxUsers: number; now?: () => number }) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.ttlMs, 60_000));
    this.sweeper.unref();
  }

  private now() {
    return this.opts.now?.() ?? Date.now();
  }

  touch(userId: string) {
    // Re-inserting keeps the Map in least-recently-seen order.
    this.lastSeen.delete(userId);
    this.lastSeen.set(userId, this.now());
    if (this.lastSeen.size > this.opts.maxUsers) {
      const oldest = this.lastSeen.keys().next().value;
      if (oldest !== undefined) this.lastSeen.delete(oldest);
    }
  }

  list(): string[] {
    const since = this.now() - this.opts.ttlMs;
    return [...this.lastSeen].filter(([, at]) => at >= since).map(([id]) => id);
  }

  sweep() {
    const since = this.now() - this.opts.ttlMs;
    for (const [id, at] of this.lastSeen) {
      if (at >= since) break;
      this.lastSeen.delete(id);
    }
  }

  get size() {
    return this.lastSeen.size;
  }

  close() {
    clearInterval(this.sweeper);
  }
}
