/**
 * What a bucket's owner keeps: the tokens it holds and when they were last
 * counted (ms, `performance.now()`), which is when the owner last took one:
 * for a connection, its last incoming frame (every frame takes one), hence
 * the name. Two numbers on the owner rather than an object of their own: a
 * server holds one per connection.
 */
export interface BucketState {
  tokens: number;
  lastSeen: number;
}

/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Synchronous
 * and in memory, no timer and no promise: every incoming frame of every
 * connection goes through it. The state lives on the owner (`BucketState`),
 * so one bucket serves every connection of a server.
 */
export class TokenBucket {
  private readonly perMs: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {
    this.perMs = perSecond / 1000;
  }

  /** A full bucket, as of `now`. */
  fill(state: BucketState, now: number) {
    state.tokens = this.burst;
    state.lastSeen = now;
  }

  /** Refills `state` up to `now`, then takes one token if there is one; false (nothing taken) when there is none. */
  take(state: BucketState, now: number): boolean {
    this.refill(state, now);
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  }

  /**
   * Takes `cost` more tokens whatever is left: the bucket may go below zero,
   * and the owner then waits until it is back above one (a frame that turned
   * out to hold several calls pays for each).
   */
  charge(state: BucketState, cost: number) {
    state.tokens -= cost;
  }

  /** Milliseconds from `now` until `state` holds `tokens` (0 when it already does). */
  msUntil(state: BucketState, tokens: number, now: number): number {
    const held = Math.min(this.burst, state.tokens + Math.max(0, now - state.lastSeen) * this.perMs);
    return held >= tokens ? 0 : Math.ceil((tokens - held) / this.perMs);
  }

  private refill(state: BucketState, now: number) {
    const elapsed = now - state.lastSeen;
    state.lastSeen = now;
    if (elapsed > 0 && state.tokens < this.burst) state.tokens = Math.min(this.burst, state.tokens + elapsed * this.perMs);
  }
}
