import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface MessageRateLimiterOptions {
  perSecond: number;
  burst: number;
}

/**
 * The per-connection budget of incoming requests: `burst` requests per window
 * of `burst / perSecond` seconds (rate-limiter-flexible's fixed window). That
 * lets a client send `burst` at once and holds it to `perSecond` on average,
 * which is what DESIGN.md's "token bucket, 20/s, burst 40" asks; unlike a true
 * bucket, a client may spend two bursts back to back across a window edge.
 */
export class MessageRateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(opts: MessageRateLimiterOptions) {
    const points = Math.max(opts.burst, opts.perSecond);
    this.limiter = new RateLimiterMemory({ keyPrefix: 'msg', points, duration: points / opts.perSecond });
  }

  /** True when the request may go on. */
  async consume(key: string): Promise<boolean> {
    try {
      await this.limiter.consume(key);
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return false;
      throw rejection;
    }
  }

  /** Forgets a key (its connection closed). */
  async forget(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
