import { expect, test } from 'vitest';
import { MemoryRateLimiter, RedisRateLimiter } from '../../server/limits/messageRateLimiter';
import { describeWithRedis, startOwnRedis, uniquePrefix } from '../support/redis';
import { memoryNodes, readyRedis, redisNodes } from '../support/sharedStores';
import { describeRateLimiterContract } from './rateLimiter.contract';

describeRateLimiterContract(
  'memory',
  memoryNodes((opts) => new MemoryRateLimiter(opts)),
);

describeWithRedis('redis rate limiter', () => {
  describeRateLimiterContract(
    'redis',
    redisNodes((redis, opts) => new RedisRateLimiter(redis, opts)),
  );

  test('per-connection budgets stay on their node', async () => {
    const prefix = uniquePrefix();
    const [ra, rb] = await Promise.all([readyRedis(prefix), readyRedis(prefix)]);
    const [a, b] = [new RedisRateLimiter(ra, { perSecond: 1, burst: 2 }), new RedisRateLimiter(rb, { perSecond: 1, burst: 2 })];
    try {
      await a.consumeConnection('conn-1');
      await a.consumeConnection('conn-1');
      expect(await a.consumeConnection('conn-1')).toBe(false);
      expect(await b.consumeConnection('conn-1')).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ra.close(), rb.close()]);
    }
  });

  test('while Redis is away the insurance limiter decides: users are neither blocked nor unlimited', async () => {
    await using own = await startOwnRedis();
    const redis = await readyRedis(uniquePrefix(), own.url);
    const limiter = new RedisRateLimiter(redis, { perSecond: 1, burst: 3 });
    try {
      await own.stop();
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.consumeUser('alice'));
      expect(results).toEqual([true, true, true, false, false]);
    } finally {
      await limiter.close();
      await redis.close();
    }
  });
});
