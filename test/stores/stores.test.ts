import { describe, expect, test } from 'vitest';
import { RedisChatSessionStore } from '../../server/chat/redisSessionStore';
import { MemoryChatSessionStore } from '../../server/chat/sessionStore';
import { MemoryConnectionCounter } from '../../server/limits/connectionCounter';
import { MemoryRateLimiter, RedisRateLimiter } from '../../server/limits/messageRateLimiter';
import { RedisConnectionCounter } from '../../server/limits/redisConnectionCounter';
import { MemoryKnownUsers } from '../../server/notifications/knownUsers';
import { MemoryNotificationCursors } from '../../server/notifications/notificationCursors';
import { RedisKnownUsers } from '../../server/notifications/redisKnownUsers';
import { RedisNotificationCursors } from '../../server/notifications/redisNotificationCursors';
import { createStores } from '../../server/stores';
import { limitDefaults } from '../../shared/limits';
import { describeWithRedis, startOwnRedis } from '../support/redis';
import { readyRedis, silentLogger } from '../support/sharedStores';

const limits = { ...limitDefaults };

describe('createStores', () => {
  test('without Redis, every store is in memory', async () => {
    const stores = createStores({ limits, logger: silentLogger });
    try {
      expect(stores.sessions).toBeInstanceOf(MemoryChatSessionStore);
      expect(stores.knownUsers).toBeInstanceOf(MemoryKnownUsers);
      expect(stores.notificationCursors).toBeInstanceOf(MemoryNotificationCursors);
      expect(stores.connectionCounter).toBeInstanceOf(MemoryConnectionCounter);
      expect(stores.rateLimiter).toBeInstanceOf(MemoryRateLimiter);
    } finally {
      await stores.close();
    }
  });
});

describeWithRedis('createStores with Redis', () => {
  test('every store is in Redis, and every key it writes starts with the prefix', async () => {
    // A Redis of this test's own: every key in it is ours.
    await using own = await startOwnRedis();
    const prefix = 'tenant-a:';
    const redis = await readyRedis(prefix, own.url);
    const stores = createStores({ limits, redis, logger: silentLogger });
    try {
      expect(stores.sessions).toBeInstanceOf(RedisChatSessionStore);
      expect(stores.knownUsers).toBeInstanceOf(RedisKnownUsers);
      expect(stores.notificationCursors).toBeInstanceOf(RedisNotificationCursors);
      expect(stores.connectionCounter).toBeInstanceOf(RedisConnectionCounter);
      expect(stores.rateLimiter).toBeInstanceOf(RedisRateLimiter);

      await stores.sessions.use('s-1', 'alice');
      await stores.sessions.watch('s-1', 'inv-1');
      await stores.knownUsers.touch('alice');
      await stores.notificationCursors.advance('alice', '1700000000000-0');
      await stores.connectionCounter.acquire('alice', 'c-1');
      await stores.rateLimiter.consumeUser('alice');

      const keys = (await redis.command.keys('*')).sort();
      expect(keys).toEqual(
        [
          'tenant-a:{chat:s:s-1}:owner',
          'tenant-a:{chat:s:s-1}:watched',
          'tenant-a:{u:alice}:chat-sessions',
          'tenant-a:{chat:i:inv-1}:watchers',
          'tenant-a:users:known',
          'tenant-a:cursor:notification-cursor:alice',
          'tenant-a:conn:alice',
          'tenant-a:rl:user:alice',
        ].sort(),
      );
      // Nothing is kept forever.
      for (const key of keys) expect(await redis.command.pttl(key), key).toBeGreaterThan(0);
    } finally {
      await stores.close();
      await redis.close();
    }
  });
});
