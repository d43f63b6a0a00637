import { describe, expect, test } from 'vitest';
import { MemoryNotificationCursors } from '../../server/notifications/notificationCursors';
import { RedisNotificationCursors } from '../../server/notifications/redisNotificationCursors';
import { describeWithRedis, uniquePrefix } from '../support/redis';
import { memoryNodes, readyRedis, redisNodes } from '../support/sharedStores';
import { describeNotificationCursorsContract } from './notificationCursors.contract';

describeNotificationCursorsContract(
  'memory',
  memoryNodes((opts) => new MemoryNotificationCursors(opts)),
);

describe('memory notification cursors', () => {
  /** A store on a clock the test moves. */
  function onClock(opts: { ttlMs: number; maxUsers: number }) {
    let at = 1_000_000;
    const cursors = new MemoryNotificationCursors({ ...opts, now: () => at });
    return { cursors, advanceClock: (ms: number) => (at += ms) };
  }

  test('an advance that does not move the cursor still restarts its expiry; reading it does not', async () => {
    const { cursors, advanceClock } = onClock({ ttlMs: 1_000, maxUsers: 10 });
    try {
      await cursors.advance('alice', '1700000000005-0');
      advanceClock(800);
      await cursors.advance('alice', '1700000000001-0');
      advanceClock(800);
      expect(await cursors.get('alice')).toBe('1700000000005-0');
      advanceClock(201);
      expect(await cursors.get('alice')).toBeNull();
    } finally {
      await cursors.close();
    }
  });

  test('bounded: past maxUsers the least recently used cursor goes, and stats count what is held', async () => {
    const { cursors } = onClock({ ttlMs: 60_000, maxUsers: 3 });
    try {
      for (const [i, userId] of ['u1', 'u2', 'u3'].entries()) await cursors.advance(userId, `1700000000000-${i}`);
      expect(cursors.stats()).toEqual({ notificationCursors: 3 });
      await cursors.get('u1');
      await cursors.advance('u4', '1700000000000-9');
      expect(cursors.stats()).toEqual({ notificationCursors: 3 });
      expect(await cursors.get('u2')).toBeNull();
      expect(await cursors.get('u1')).toBe('1700000000000-0');
    } finally {
      await cursors.close();
    }
  });
});

describeWithRedis('redis notification cursors', () => {
  describeNotificationCursorsContract(
    'redis',
    redisNodes((redis, opts) => new RedisNotificationCursors(redis, opts)),
  );

  test('the key is the one deployed before this store, and an advance that does not move it restarts its expiry', async () => {
    const prefix = uniquePrefix();
    const redis = await readyRedis(prefix);
    const cursors = new RedisNotificationCursors(redis, { ttlMs: 60_000 });
    try {
      await cursors.advance('alice', '1700000000005-0');
      const key = `${prefix}cursor:notification-cursor:alice`;
      expect(await redis.command.get(key)).toBe('1700000000005-0');

      await redis.command.pexpire(key, 5_000);
      await cursors.advance('alice', '1700000000001-0');
      expect(await redis.command.get(key)).toBe('1700000000005-0');
      expect(await redis.command.pttl(key)).toBeGreaterThan(5_000);
    } finally {
      await cursors.close();
      await redis.close();
    }
  });
});
