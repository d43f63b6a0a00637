/**
 * The per-user budget of HTTP calls (service tokens are exempt). With Redis it
 * is shared by every node under one key (P = the deployment's prefix):
 *
 *   P rl:user:<userId>   rate-limiter-flexible's counter of the user's window (PX = the window)
 *
 * WebSocket connections do not ask this limiter: every frame pays a token of
 * its connection's own bucket (tokenBucket.ts), synchronously, before it is
 * parsed, and waits rather than being refused.
 */
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClients } from '../redis/connect';

export interface MessageRateLimiterOptions {
  perSecond: number;
  burst: number;
}

export interface RateLimiter {
  /** One HTTP request of a (non-service) user, counted across nodes when the store is shared; true when it may go on. */
  consumeUser(userId: string): Promise<boolean>;
  /** Forgets the user's budget, shared and this node's (admin.eraseUser); how many records went. */
  eraseUser(userId: string): Promise<number>;
  /** Forgets what this node alone holds of the user (every node does, on admin.eraseUser's broadcast). */
  forgetLocal(userId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * `burst` requests per window of `burst / perSecond` seconds
 * (rate-limiter-flexible's fixed window). That lets a client send `burst` at
 * once and holds it to `perSecond` on average, which is what the contract's
 * "token bucket, 20/s, burst 40" asks; unlike a true bucket, a client may
 * spend two bursts back to back across a window edge.
 */
function windowOf(opts: MessageRateLimiterOptions) {
  const points = Math.max(opts.burst, opts.perSecond);
  return { points, duration: points / opts.perSecond };
}

async function allowed(limiter: RateLimiterAbstract, key: string): Promise<boolean> {
  try {
    await limiter.consume(key);
    return true;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return false;
    throw rejection;
  }
}

/** Everything in this process. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly users: RateLimiterMemory;

  constructor(opts: MessageRateLimiterOptions) {
    this.users = new RateLimiterMemory({ keyPrefix: 'user', ...windowOf(opts) });
  }

  consumeUser(userId: string) {
    return allowed(this.users, userId);
  }

  async eraseUser(userId: string): Promise<number> {
    return (await this.users.delete(userId)) ? 1 : 0;
  }

  /** One node: its budgets are the ones `eraseUser` erases (counting them). */
  async forgetLocal(_userId: string): Promise<void> {}

  async close() {}
}

/**
 * Per-user budgets in Redis. Redis counts in
 * whole seconds, so its window is rounded up and its points scaled to keep
 * the rate. While Redis is unreachable, an insurance limiter in this process
 * (the same budget, per node) decides instead: an outage neither blocks
 * everyone nor lifts the limit.
 */
export class RedisRateLimiter extends MemoryRateLimiter {
  private readonly sharedUsers: RateLimiterRedis;
  private readonly insurance: RateLimiterMemory;

  constructor(redis: RedisClients, opts: MessageRateLimiterOptions) {
    super(opts);
    const window = windowOf(opts);
    const duration = Math.max(1, Math.ceil(window.duration));
    const points = Math.max(window.points, Math.round(opts.perSecond * duration));
    this.insurance = new RateLimiterMemory({ keyPrefix: 'user-insurance', points, duration });
    this.sharedUsers = new RateLimiterRedis({
      storeClient: redis.command,
      keyPrefix: `${redis.prefix}rl:user`,
      points,
      duration,
      rejectIfRedisNotReady: true,
      insuranceLimiter: this.insurance,
    });
  }

  override consumeUser(userId: string) {
    return allowed(this.sharedUsers, userId);
  }

  override async eraseUser(userId: string): Promise<number> {
    await this.forgetLocal(userId);
    return (await this.sharedUsers.delete(userId)) ? 1 : 0;
  }

  override async forgetLocal(userId: string): Promise<void> {
    await this.insurance.delete(userId);
  }
}
