import { expect, test } from 'vitest';
import { MemoryConnectionCounter } from '../../server/limits/connectionCounter';
import { RedisConnectionCounter } from '../../server/limits/redisConnectionCounter';
import { describeWithRedis, startOwnRedis, uniquePrefix } from '../support/redis';
import { memoryNodes, readyRedis, redisNodes, silentLogger } from '../support/sharedStores';
import { waitFor } from '../support/wait';
import { describeConnectionCounterContract } from './connectionCounter.contract';

describeConnectionCounterContract(
  'memory',
  memoryNodes(({ maxPerUser }) => new MemoryConnectionCounter(maxPerUser)),
);

describeWithRedis('redis connection counter', () => {
  describeConnectionCounterContract(
    'redis',
    redisNodes((redis, { maxPerUser }) => new RedisConnectionCounter(redis, { maxPerUser, logger: silentLogger })),
  );

  test('a node that stops renewing (crashed, nothing released) stops counting after its lease; a live node keeps its leases', async () => {
    const prefix = uniquePrefix();
    // A lease far longer than the renewal, so a busy machine never lets a live lease lapse.
    const lease = { leaseMs: 1_500, refreshMs: 100 };
    const redis = await Promise.all([readyRedis(prefix), readyRedis(prefix), readyRedis(prefix)]);
    const [live, crashing, other] = redis.map((r) => new RedisConnectionCounter(r, { maxPerUser: 3, ...lease, logger: silentLogger }));
    try {
      expect(await live!.acquire('alice', 'live-1')).toBe(true);
      expect(await crashing!.acquire('alice', 'crash-1')).toBe(true);
      expect(await crashing!.acquire('alice', 'crash-2')).toBe(true);
      expect(await other!.acquire('alice', 'other-1')).toBe(false);

      await crashing!.close();

      // Polled: each failed attempt counts nothing.
      await waitFor(
        () => other!.acquire('alice', 'other-1'),
        (ok) => ok,
        'the crashed node’s first lease to lapse',
      );
      await waitFor(
        () => other!.acquire('alice', 'other-2'),
        (ok) => ok,
        'the crashed node’s second lease to lapse',
      );
      // By now the live node's first lease is long past: only its renewals keep it counted.
      expect(await other!.acquire('alice', 'other-3')).toBe(false);
    } finally {
      await Promise.all([live!.close(), other!.close()]);
      await Promise.all(redis.map((r) => r.close()));
    }
  });

  test('while Redis is away a node admits up to the limit on its own connections; once back, its connections count again', async () => {
    await using own = await startOwnRedis();
    const prefix = uniquePrefix();
    const [ra, rb] = await Promise.all([readyRedis(prefix, own.url), readyRedis(prefix, own.url)]);
    const a = new RedisConnectionCounter(ra, { maxPerUser: 2, leaseMs: 5_000, refreshMs: 100, logger: silentLogger });
    const b = new RedisConnectionCounter(rb, { maxPerUser: 2, leaseMs: 5_000, refreshMs: 100, logger: silentLogger });
    try {
      await own.stop();
      expect(await a.acquire('alice', 'a1')).toBe(true);
      expect(await a.acquire('alice', 'a2')).toBe(true);
      expect(await a.acquire('alice', 'a3')).toBe(false);

      await own.start();
      // The other node sees the connections admitted during the outage once a renewal wrote them.
      const probe = async () => {
        const ok = await b.acquire('alice', 'probe');
        if (ok) await b.release('alice', 'probe');
        return ok;
      };
      await waitFor(probe, (ok) => !ok, 'the outage connections to be counted in Redis');
      await a.release('alice', 'a1');
      expect(await b.acquire('alice', 'b1')).toBe(true);
      expect(await b.acquire('alice', 'b2')).toBe(false);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ra.close(), rb.close()]);
    }
  });
});
