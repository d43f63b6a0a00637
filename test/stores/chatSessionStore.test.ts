import { expect, test } from 'vitest';
import { RedisChatSessionStore } from '../../server/chat/redisSessionStore';
import { MemoryChatSessionStore } from '../../server/chat/sessionStore';
import { describeWithRedis, startOwnRedis, uniquePrefix } from '../support/redis';
import { memoryNodes, readyRedis, redisNodes, silentLogger } from '../support/sharedStores';
import { waitFor } from '../support/wait';
import { describeChatSessionStoreContract } from './chatSessionStore.contract';

describeChatSessionStoreContract(
  'memory',
  memoryNodes((opts) => new MemoryChatSessionStore(opts)),
);

describeWithRedis('redis chat sessions', () => {
  describeChatSessionStoreContract(
    'redis',
    redisNodes((redis, opts) => new RedisChatSessionStore(redis, { ...opts, logger: silentLogger })),
  );

  test('while Redis is away a call fails with store_unavailable; afterwards the claim still holds', async () => {
    await using own = await startOwnRedis();
    const redis = await readyRedis(uniquePrefix(), own.url);
    const store = new RedisChatSessionStore(redis, {
      maxSessionsPerUser: 10,
      maxWatchedPerSession: 10,
      historyTtlMs: 60_000,
      logger: silentLogger,
    });
    try {
      await store.use('s-outage', 'alice');
      await own.stop();

      await expect(store.use('s-outage', 'bob')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'store_unavailable' });
      await expect(store.watchersOf('inv')).rejects.toMatchObject({ reason: 'store_unavailable' });

      await own.start();
      const outcome = () =>
        store.use('s-outage', 'bob').then(
          () => 'claimed',
          (err: { reason?: string }) => err.reason,
        );
      expect(await waitFor(outcome, (r) => r !== 'store_unavailable', 'Redis to be back')).toBe('session_owned_by_other');
    } finally {
      await store.close();
      await redis.close();
    }
  });
});
