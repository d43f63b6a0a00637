/**
 * Every Redis-backed store on a real Redis Cluster (3 masters, 3 replicas):
 * the same contracts as on one Redis. The stores' keys spread over every
 * master, so a script or pipeline touching keys of two slots would fail here
 * (CROSSSLOT), where one Redis lets it pass.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RedisRevocations } from '../../server/auth/redisRevocations';
import { RedisChatSessionStore } from '../../server/chat/redisSessionStore';
import { type ControlMessage, createRedisControlChannel } from '../../server/cluster/controlChannel';
import { RedisRateLimiter } from '../../server/limits/messageRateLimiter';
import { RedisConnectionCounter } from '../../server/limits/redisConnectionCounter';
import { RedisKnownUsers } from '../../server/notifications/redisKnownUsers';
import { RedisNotificationCursors } from '../../server/notifications/redisNotificationCursors';
import { redisPresenceBackend } from '../../server/presence/presenceBackend';
import { uniquePrefix } from '../support/redis';
import { describeWithRedisCluster, startRedisCluster } from '../support/redisCluster';
import { readyRedis, redisNodes, silentLogger } from '../support/sharedStores';
import { waitFor } from '../support/wait';
import { describeChatSessionStoreContract } from './chatSessionStore.contract';
import { describeConnectionCounterContract } from './connectionCounter.contract';
import { describeKnownUsersContract } from './knownUsers.contract';
import { describeNotificationCursorsContract } from './notificationCursors.contract';
import { describeRateLimiterContract } from './rateLimiter.contract';
import { describeRevocationsContract } from './revocations.contract';

type RedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;

describeWithRedisCluster('stores on a Redis Cluster', () => {
  // One cluster for the file. The suites are declared before it starts, so
  // they are given this target, whose seed nodes are filled in once it has.
  let cluster: RedisCluster | undefined;
  const target = { clusterNodes: [] as string[] };
  beforeAll(async () => {
    cluster = await startRedisCluster();
    target.clusterNodes.push(...cluster.spec.split(','));
  }, 120_000);
  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]();
  });

  describeChatSessionStoreContract(
    'redis cluster',
    redisNodes((redis, opts) => new RedisChatSessionStore(redis, { ...opts, logger: silentLogger }), target),
  );
  describeConnectionCounterContract(
    'redis cluster',
    redisNodes((redis, { maxPerUser }) => new RedisConnectionCounter(redis, { maxPerUser, logger: silentLogger }), target),
  );
  describeKnownUsersContract(
    'redis cluster',
    redisNodes((redis, opts) => new RedisKnownUsers(redis, opts), target),
  );
  describeNotificationCursorsContract(
    'redis cluster',
    redisNodes((redis, opts) => new RedisNotificationCursors(redis, opts), target),
  );
  describeRateLimiterContract(
    'redis cluster',
    redisNodes((redis, opts) => new RedisRateLimiter(redis, opts), target),
  );
  describeRevocationsContract(
    'redis cluster',
    redisNodes((redis, opts) => new RedisRevocations(redis, opts), target),
  );

  test('the connection leases of users on every master are renewed: a node that stops renewing stops counting, a live one does not', async () => {
    const prefix = uniquePrefix();
    const lease = { leaseMs: 1_500, refreshMs: 100 };
    const redis = await Promise.all([readyRedis(prefix, target), readyRedis(prefix, target)]);
    const [live, crashing] = redis.map((r) => new RedisConnectionCounter(r, { maxPerUser: 1, ...lease, logger: silentLogger }));
    // Enough users that their keys fall on every master.
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    try {
      for (const user of users) expect(await live!.acquire(user, `live-${user}`)).toBe(true);
      expect(await crashing!.acquire('crash-user', 'crash-1')).toBe(true);
      await crashing!.close();

      await waitFor(
        () => live!.acquire('crash-user', 'live-crash-user'),
        (ok) => ok,
        'the stopped node’s lease to lapse',
      );
      // Long past their first lease: only the renewals keep them counted.
      for (const user of users) expect(await live!.acquire(user, `other-${user}`)).toBe(false);
    } finally {
      await live!.close();
      await Promise.all(redis.map((r) => r.close()));
    }
  });

  test('presence: each node’s members of an investigation are read on every node', async () => {
    const prefix = uniquePrefix();
    const [ra, rb] = await Promise.all([readyRedis(prefix, target), readyRedis(prefix, target)]);
    const [a, b] = [redisPresenceBackend(ra, 'node-a', 60_000), redisPresenceBackend(rb, 'node-b', 60_000)];
    try {
      await a.write('inv-1', new Map([['alice', { connections: 2, since: 0 }]]));
      await b.write('inv-1', new Map([['alice', { connections: 1, since: 0 }]]));
      await b.write('inv-2', new Map([['bob', { connections: 1, since: 0 }]]));

      const members = await a.read('inv-1');
      expect([...members.keys()]).toEqual(['alice']);
      expect(members.get('alice')?.connections).toBe(3);
      expect([...(await a.read('inv-2')).keys()]).toEqual(['bob']);

      await a.write('inv-1', new Map());
      expect((await b.read('inv-1')).get('alice')?.connections).toBe(1);
    } finally {
      await Promise.all([ra.close(), rb.close()]);
    }
  });

  test('the control channel reaches every node, the sender included', async () => {
    const prefix = uniquePrefix();
    const [ra, rb] = await Promise.all([readyRedis(prefix, target), readyRedis(prefix, target)]);
    const [a, b] = [createRedisControlChannel(ra, silentLogger), createRedisControlChannel(rb, silentLogger)];
    const heard: Record<'a' | 'b', ControlMessage[]> = { a: [], b: [] };
    a.listen((message) => heard.a.push(message));
    b.listen((message) => heard.b.push(message));
    try {
      // A subscription is on its way once broadcast resolves; wait until both nodes hear.
      await waitFor(
        async () => {
          await a.broadcast({ kind: 'ping' });
          return heard.a.length > 0 && heard.b.length > 0;
        },
        (ok) => ok,
        'both nodes to hear a broadcast',
      );
      // (Pings of the retries may still arrive: only the erase is looked at.)
      const erases = (node: 'a' | 'b') => heard[node].filter((message) => message.kind === 'erase-user');
      await b.broadcast({ kind: 'erase-user', userId: 'alice' });
      await waitFor(
        () => erases('a').length + erases('b').length,
        (n) => n === 2,
        'the broadcast on both nodes',
      );
      expect(erases('a')).toEqual([{ kind: 'erase-user', userId: 'alice' }]);
      expect(erases('b')).toEqual([{ kind: 'erase-user', userId: 'alice' }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ra.close(), rb.close()]);
    }
  });
});
