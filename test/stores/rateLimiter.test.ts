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
