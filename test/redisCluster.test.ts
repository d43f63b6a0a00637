import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RedisConnectOptions } from '../server/redis/connect';
import { RedisNotReplicatedError } from '../server/redis/replication';
import { topicKeys } from '../server/redis/topicKeys';
import type { EventDraft } from '../shared/events';
import { topics } from '../shared/topics';
import { describeEngineContract } from './engine.contract';
import { collect, type InvestigationItem } from './support/collect';
import { uniquePrefix } from './support/redis';
import { describeWithRedisCluster, startRedisCluster } from './support/redisCluster';
import { redisEngineOn } from './support/redisEngine';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;

/** One real cluster (3 masters, 3 replicas) for the file; the chaos test kills one of its masters last. */
function running() {
  if (!cluster) throw new Error('the Redis Cluster did not start');
  return cluster;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 90_000);
afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
});

/** An engine on its own cluster connections, closed with them. */
const clusterEngine = (prefix = uniquePrefix(), opts: RedisConnectOptions = {}) =>
  redisEngineOn({ clusterNodes: running().spec.split(',') }, prefix, opts);

// Six Redis processes share this machine's cores with the other suites: 2 000 publishes fired at once may
// take longer than the default bound of one command there.
describeEngineContract('redis cluster', () => clusterEngine(uniquePrefix(), { timeoutMs: 5_000 }), describeWithRedisCluster);

const draft = (seq: number): EventDraft => ({
  type: 'investigation_update',
  data: { investigationId: 'cluster', updateType: 'progress', progress: seq % 101, stage: `seq ${seq}` },
});
const keep = { maxEvents: 1_000, ttlMs: 3_600_000 };

/** A plain connection to one node, for looking at what it holds. */
async function node(port: number) {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  return Object.assign(redis, { [Symbol.asyncDispose]: async () => redis.disconnect() });
}

describeWithRedisCluster('the Redis engine on a Redis Cluster', () => {
  test('a topic keeps its stream, meta, idempotency records and channel in one slot; topics spread over every master; a node listens on the shard of each topic it has subscribers of, only while it has them', async () => {
    const prefix = uniquePrefix();
    await using engine = await clusterEngine(prefix);
    const names = Array.from({ length: 24 }, (_, i) => `investigation:spread-${i}`);
    for (const [i, topic] of names.entries()) {
      await engine.publishClaimed(topic, draft(i), keep, { key: `k${i}`, fingerprint: 'f', ttlMs: 60_000 });
    }
    await using any = await node(running().nodes[0]!.port);
    const masters = new Set<number>();
    for (const topic of names) {
      const k = topicKeys(prefix, topic);
      const slots = await Promise.all([k.stream, k.meta, k.claims, `${k.claims}:k0`, k.channel].map((key) => any.cluster('KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);
      masters.add(await running().masterOfKey(k.stream));
    }
    expect(masters.size).toBe(3);

    const topic = names[0]!;
    const { channel } = topicKeys(prefix, topic);
    await using owner = await node(await running().masterOfKey(channel));
    const listeners = async () => Number(((await owner.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);
    const feed = engine.subscribe(topic, () => undefined);
    await feed.ready;
    expect(await listeners()).toBe(1);
    feed.close();
    await waitFor(listeners, (n) => n === 0, 'the shard channel to be left');
  });

  test('a publish is acknowledged only once a replica has it: with the replica stopped it fails, and the event acknowledged after it runs again is on the replica', async () => {
    const prefix = uniquePrefix();
    await using engine = await clusterEngine(prefix);
    const topic = 'investigation:replicated';
    const { stream } = topicKeys(prefix, topic);
    await engine.publish(topic, draft(0), keep);
    const masterPort = await running().masterOfKey(stream);
    const [shard] = (await running().masters()).filter((m) => m.port === masterPort);
    const replicaPort = shard!.replicaPorts[0]!;
    await using replica = await node(replicaPort);
    const pid = Number(/process_id:(\d+)/.exec(await replica.info('server'))![1]);

    process.kill(pid, 'SIGSTOP');
    try {
      await expect(engine.publish(topic, draft(1), keep)).rejects.toBeInstanceOf(RedisNotReplicatedError);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const acknowledged = await engine.publish(topic, draft(2), keep);
    await replica.call('READONLY');
    const held = (await replica.xrange(stream, '-', '+')).map(([id]) => id);
    expect(held).toContain(acknowledged.id);
  });

  test('REDIS_WAIT_REPLICAS=0 acknowledges without waiting for a replica', async () => {
    const prefix = uniquePrefix();
    await using engine = await clusterEngine(prefix, { waitReplicas: 0 });
    const topic = 'investigation:unwaited';
    const masterPort = await running().masterOfKey(topicKeys(prefix, topic).stream);
    const [shard] = (await running().masters()).filter((m) => m.port === masterPort);
    await using replica = await node(shard!.replicaPorts[0]!);
    const pid = Number(/process_id:(\d+)/.exec(await replica.info('server'))![1]);
    process.kill(pid, 'SIGSTOP');
    try {
      expect((await engine.publish(topic, draft(0), keep)).id).toMatch(/^\d+-\d+$/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

describeWithRedisCluster('chaos: a master killed while a node publishes', () => {
  test('its replica takes over; every acknowledged event reaches every subscriber on both nodes once, in order, and nothing is acknowledged twice', async () => {
    const prefix = uniquePrefix();
    const options = { redisClusterNodes: running().spec.split(','), redisKeyPrefix: prefix };
    await using a = await startServer(options);
    await using b = await startServer(options);
    const investigationId = 'inv-chaos';
    const subscribe = async (srv: TestServer, user: string) => {
      const token = await srv.token({ sub: user, investigations: [investigationId] });
      const { client } = srv.wsClient({ token });
      const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
      await sub.started;
      return sub;
    };
    const subscribers = [await subscribe(a, 'on-a'), await subscribe(b, 'on-b1'), await subscribe(b, 'on-b2')];

    /** Publishes step `i` until it is acknowledged, retrying with the same idempotencyKey through the failover. */
    const acknowledged: string[] = [];
    let failures = 0;
    const publish = async (i: number) => {
      for (;;) {
        try {
          const { id } = await a.server.notifyInvestigationUpdate({
            investigationId,
            updateType: 'progress',
            data: { progress: i % 101, stage: `step ${i}` },
            idempotencyKey: `step-${i}`,
          });
          acknowledged.push(id);
          return;
        } catch {
          failures++;
          await sleep(50);
        }
      }
    };

    const total = 60;
    const killAt = 20;
    const master = await running().masterOfKey(topicKeys(prefix, topics.investigation(investigationId)).stream);
    for (let i = 0; i < total; i++) {
      if (i === killAt) await running().kill(master);
      await publish(i);
    }
    expect(failures).toBeGreaterThan(0);
    expect(new Set(acknowledged).size).toBe(total);

    for (const sub of subscribers) {
      const got = await sub.until((items) => acknowledged.every((id) => items.some((item) => item.id === id)), 'every acknowledged event');
      const ids = got.map((item) => item.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => acknowledged.includes(id))).toEqual(acknowledged);
    }
    // What a client that reconnects now reads back: the acknowledged events, each once.
    await using reader = await clusterEngine(prefix);
    const history = await reader.readAfter(topics.investigation(investigationId), '0-0');
    const stages = history.events.map((event) => (event.data as { stage?: string }).stage);
    expect(stages).toEqual(Array.from({ length: total }, (_, i) => `step ${i}`));
  }, 120_000);
});
