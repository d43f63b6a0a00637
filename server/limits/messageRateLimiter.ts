import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface MessageRateLimiterOptions {
  perSecond: number;
  burst: number;
}

/**
 * The per-connection budget of incoming requests: `perSecond` sustained, with
 * room for a burst of `burst` (rate-limiter-flexible's BurstyRateLimiter: a
 * 1-second limiter backed by a slower burst pool).
 */
export class MessageRateLimiter {
  private readonly limiter: BurstyRateLimiter;
  private readonly parts: RateLimiterMemory[];

  constructor(opts: MessageRateLimiterOptions) {
    const extra = Math.max(opts.burst - opts.perSecond, 1);
    const main = new RateLimiterMemory({ keyPrefix: 'msg', points: opts.perSecond, duration: 1 });
    const burst = new RateLimiterMemory({
      keyPrefix: 'msg-burst',
      points: extra,
      duration: Math.max(1, Math.ceil(extra / opts.perSecond)),
    });
    this.parts = [main, burst];
    this.limiter = new BurstyRateLimiter(main, burst);
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
    await Promise.all(this.parts.map((part) => part.delete(key)));
  }
}
