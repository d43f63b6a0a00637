import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { EventBus } from '../server/bus/eventBus';
import { createRedisEngine } from '../server/bus/redisEngine';
import { createLogger } from '../server/observability/logger';
import type { RedisClients } from '../server/redis/connect';
import { ORIGIN_EVENT_ID } from '../shared/eventId';
import type { EventDraft, RealtimeEvent } from '../shared/events';
import { describeEngineContract } from './engine.contract';
import { describeWithRedis, REDIS_URL, startOwnRedis, uniquePrefix } from './support/redis';
import { redisEngineOn } from './support/redisEngine';
import { WAIT_MS, waitFor } from './support/wait';

const logger = createLogger('silent');

/** An engine on its own connections, closed with them. */
const redisEngine = (url = REDIS_URL, prefix = uniquePrefix(), timeoutMs?: number) => redisEngineOn({ url }, prefix, { timeoutMs });

describeEngineContract('redis', () => redisEngine(), describeWithRedis);

const draft = (seq: number): EventDraft => ({
  type: 'investigation_update',
  data: { investigationId: 'redis-engine', updateType: 'progress', progress: seq % 101, stage: `seq ${seq}` },
});
const keep = { maxEvents: 1_000, ttlMs: 3_600_000 };

/** What a call that should fail failed with: its message, or a failure of the test if it succeeded. */
async function failureOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describeWithRedis('redis engine: histories lost, feeds cut, a Redis that hangs', () => {
  test('a history lost (its keys gone, as after a Redis restarted empty) starts again with another epoch; an id of the old one is not found and the new events are those after trimmedThrough ?? 0-0', async () => {
    const prefix = uniquePrefix();
    await using engine = await redisEngine(REDIS_URL, prefix);
    const topic = 'investigation:lost';
    const old: RealtimeEvent[] = [];
    for (let i = 0; i < 3; i++) old.push(await engine.publish(topic, draft(i), keep));
    const before = await engine.readAfter(topic, old[1]!.id);
    expect(before.found).toBe(true);

    await engine.clients.command.del(`${prefix}{t:${topic}}:s`, `${prefix}{t:${topic}}:m`);
    expect(await engine.readAfter(topic, old[2]!.id)).toEqual({
      found: false,
      events: [],
      headId: null,
      originId: null,
      trimmedThrough: null,
      epoch: null,
    });

    // A Redis restarted empty issues its first ids later than the old ones: a
    // stream deleted and written again in the same millisecond would not.
    const oldMs = Number(old[2]!.id.split('-')[0]);
    await waitFor(
      async () => {
        const [seconds, micros] = await engine.clients.command.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      },
      (ms) => ms > oldMs,
      "Redis's clock to pass the old head",
    );
    const fresh: RealtimeEvent[] = [];
    for (let i = 3; i < 6; i++) fresh.push(await engine.publish(topic, draft(i), keep));
    const after = await engine.readAfter(topic, old[2]!.id);
    expect(after).toEqual({
      found: false,
      events: fresh,
      headId: fresh[2]!.id,
      originId: fresh[0]!.id,
      trimmedThrough: null,
      epoch: expect.any(String),
    });
    expect(after.epoch).not.toBe(before.epoch);
    // Where a reader that lost its place goes on from: exactly the new history.
    expect((await engine.readAfter(topic, after.trimmedThrough ?? ORIGIN_EVENT_ID)).events).toEqual(fresh);
  });

  test('a cut live feed: the reconnect listeners run before any live event of the new feed is handed on, and every event published after the reconnect arrives live, in order', async () => {
    await using own = await startOwnRedis();
    const prefix = uniquePrefix();
    await using listening = await redisEngine(own.url, prefix);
    await using publishing = await redisEngine(own.url, prefix);
    const topic = 'investigation:cut';

    const log: (RealtimeEvent | 'reconnected')[] = [];
    /** Publishes started so far, and how many had started when the reconnect listener ran. */
    let started = 0;
    let startedAtReconnect: number | null = null;
    listening.onReconnect(() => {
      startedAtReconnect ??= started;
      log.push('reconnected');
    });
    const feed = listening.subscribe(topic, (event) => log.push(event));
    await feed.ready;
    const first = await publishing.publish(topic, draft(0), keep);
    await waitFor(
      () => log.length,
      (n) => n === 1,
      'the first live event',
    );

    const admin = new Redis(own.url);
    try {
      expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBe(1);
    } finally {
      admin.disconnect();
    }
    // Publishing goes on through the reconnect, so events come on the new feed as soon as it is there.
    const published: RealtimeEvent[] = [];
    while (startedAtReconnect === null || published.length < startedAtReconnect + 20) {
      started++;
      published.push(await publishing.publish(topic, draft(started), keep));
      if (started > 100_000) throw new Error('the live feed never came back');
    }
    const last = published.at(-1)!;
    await waitFor(
      () => log.at(-1),
      (entry) => entry !== 'reconnected' && entry?.id === last.id,
      'the last event, live',
    );

    const mark = log.indexOf('reconnected');
    expect(log.slice(0, mark)).toEqual([first]);
    expect(log.filter((entry) => entry === 'reconnected')).toHaveLength(1);
    const live = log.slice(mark + 1) as RealtimeEvent[];
    // Those published while the feed was away are for the catch-up (from the
    // stream); the rest came live, in order, every one started after the
    // listener ran among them.
    expect(live).toEqual(published.slice(published.length - live.length));
    expect(live.length).toBeGreaterThanOrEqual(published.length - startedAtReconnect!);
    feed.close();
  });

  test('a Redis that hangs (SIGSTOP): health turns degraded (redis_unresponsive), publishes and reads fail at once, and all is well again once it answers', async () => {
    await using own = await startOwnRedis();
    await using engine = await redisEngine(own.url);
    const topic = 'investigation:hung';
    const before = await engine.publish(topic, draft(0), keep);
    expect(engine.health()).toEqual({ kind: 'redis', status: 'ok' });

    process.kill(own.pid!, 'SIGSTOP');
    try {
      await waitFor(
        () => engine.health(),
        (health) => health.status === 'degraded',
        'health to turn degraded',
      );
      expect(engine.health()).toEqual({ kind: 'redis', status: 'degraded', reason: 'redis_unresponsive' });
      for (const call of [
        () => engine.publish(topic, draft(1), keep),
        () => engine.readAfter(topic, before.id),
        () => engine.head(topic),
      ]) {
        expect(await failureOf(call)).toMatch(/unresponsive/);
      }
      // A topic this node had no live feed for cannot get one confirmed either.
      const feed = engine.subscribe('investigation:hung-new', () => undefined);
      expect(await failureOf(() => feed.ready)).toMatch(/unresponsive/);
      feed.close();
      expect(engine.stats()).toEqual({ listenerTopics: 0 });
    } finally {
      process.kill(own.pid!, 'SIGCONT');
    }
    await waitFor(
      () => engine.health(),
      (health) => health.status === 'ok',
      'health to be ok again',
    );
    const after = await engine.publish(topic, draft(2), keep);
    expect((await engine.readAfter(topic, before.id)).events.map((event) => event.id)).toEqual([after.id]);
  });

  test('a hung Redis killed and started again: the engine reconnects and is ok again (the new connection is not refused for the old hang)', async () => {
    await using own = await startOwnRedis();
    await using engine = await redisEngine(own.url);
    process.kill(own.pid!, 'SIGSTOP');
    await waitFor(
      () => engine.health(),
      (health) => health.reason === 'redis_unresponsive',
      'health to say unresponsive',
    );
    await own.stop();
    await own.start();
    await waitFor(
      () => engine.health(),
      (health) => health.status === 'ok',
      'health to be ok again',
    );
    const event = await engine.publish('investigation:hung-killed', draft(0), keep);
    expect((await engine.readAfter('investigation:hung-killed', ORIGIN_EVENT_ID)).events).toEqual([event]);
  });

  test('an event loop that stalls longer than the timeout fails no command Redis answered in time, and the probe does not call Redis unresponsive for it', async () => {
    const timeoutMs = 100;
    await using engine = await redisEngine(REDIS_URL, uniquePrefix(), timeoutMs);
    const topic = 'investigation:stall';
    const unresponsive: boolean[] = [];
    for (let round = 0; round < 5; round++) {
      const publishes = Array.from({ length: 20 }, (_, i) => engine.publish(topic, draft(round * 20 + i), keep));
      // A synchronous task holds the event loop three timeouts long while the answers wait in the socket.
      const until = performance.now() + 3 * timeoutMs;
      while (performance.now() < until) {
        // busy
      }
      const outcomes = await Promise.allSettled(publishes);
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      unresponsive.push(engine.clients.unresponsive());
    }
    expect(unresponsive).toEqual([false, false, false, false, false]);
    expect((await engine.readAfter(topic, ORIGIN_EVENT_ID)).events).toHaveLength(100);
  });

  test('a node stops while Redis hangs: closing the engine and its connections does not wait for Redis', async () => {
    await using own = await startOwnRedis();
    const engine = await redisEngine(own.url);
    const feed = engine.subscribe('investigation:hung-close', () => undefined);
    await feed.ready;

    process.kill(own.pid!, 'SIGSTOP');
    try {
      await waitFor(
        () => engine.health().status,
        (status) => status === 'degraded',
        'health to turn degraded',
      );
      const closed = engine.close().then(() => 'closed');
      const bound = new Promise((resolve) => setTimeout(resolve, WAIT_MS, 'still closing').unref());
      expect(await Promise.race([closed, bound])).toBe('closed');
    } finally {
      process.kill(own.pid!, 'SIGCONT');
    }
  });
});

describeWithRedis('redis engine: idempotency records and erasure', () => {
  test("a claim's record and its index carry the topic's hash tag; erase deletes them with the stream and the meta, and nothing else", async () => {
    const prefix = uniquePrefix();
    await using engine = await redisEngine(REDIS_URL, prefix);
    const topic = 'investigation:tagged';
    const other = 'investigation:other';
    const claim = (key: string) => ({ key, fingerprint: 'fp', ttlMs: 60_000 });
    await engine.publishClaimed(topic, draft(0), keep, claim('k1'));
    await engine.publishClaimed(topic, draft(1), keep, claim('k2'));
    await engine.publishClaimed(other, draft(2), keep, claim('k1'));
    const keys = async () => (await engine.clients.command.keys(`${prefix}*`)).sort();
    expect(await keys()).toEqual(
      [
        `${prefix}{t:${topic}}:s`,
        `${prefix}{t:${topic}}:m`,
        `${prefix}{t:${topic}}:idem`,
        `${prefix}{t:${topic}}:idem:k1`,
        `${prefix}{t:${topic}}:idem:k2`,
        `${prefix}{t:${other}}:s`,
        `${prefix}{t:${other}}:m`,
        `${prefix}{t:${other}}:idem`,
        `${prefix}{t:${other}}:idem:k1`,
      ].sort(),
    );
    // Each record expires with its ttl, and so does the index.
    expect(await engine.clients.command.pttl(`${prefix}{t:${topic}}:idem:k1`)).toBeGreaterThan(0);
    expect(await engine.clients.command.pttl(`${prefix}{t:${topic}}:idem`)).toBeGreaterThan(0);

    expect(await engine.erase(topic)).toBe(2);
    expect(await keys()).toEqual(
      [`${prefix}{t:${other}}:s`, `${prefix}{t:${other}}:m`, `${prefix}{t:${other}}:idem`, `${prefix}{t:${other}}:idem:k1`].sort(),
    );
  });
});

describeWithRedis('the bus over the redis engine: erase while Redis is away', () => {
  test('fails with engine_unavailable, like publish', async () => {
    await using own = await startOwnRedis();
    await using engine = await redisEngine(own.url);
    const bus = new EventBus({ engine, batchWindowMs: 0, retentionOf: () => keep, maxQueuedEvents: 100 });
    try {
      await bus.publish('investigation:erase-away', draft(0));
      await own.stop();
      await waitFor(
        () => engine.health().status,
        (status) => status === 'degraded',
        'health to turn degraded',
      );
      await expect(bus.erase('investigation:erase-away')).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        reason: 'engine_unavailable',
      });
      await own.start();
      await waitFor(
        () => engine.health().status,
        (status) => status === 'ok',
        'health to be ok again',
      );
      expect(await bus.erase('investigation:erase-away')).toBe(1);
    } finally {
      bus.close();
    }
  });
});

describe('redis engine: the reconnect, step by step', () => {
  /** A subscriber connection whose SUBSCRIBE answers when the test says so. */
  class FakeSubscriber extends EventEmitter {
    status = 'ready';
    readonly pending: { resolve: (n: number) => void; reject: (err: Error) => void }[] = [];
    subscribe(..._channels: string[]): Promise<number> {
      return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    }
    unsubscribe(): Promise<number> {
      return Promise.resolve(0);
    }
    confirm() {
      for (const { resolve } of this.pending.splice(0)) resolve(1);
    }
    refuse() {
      for (const { reject } of this.pending.splice(0)) reject(new Error('NOPERM'));
    }
  }

  test('a message that comes on the new connection before the resubscription is confirmed reaches the listener only after the reconnect listeners ran', async () => {
    const subscriber = new FakeSubscriber();
    const clients = {
      command: { status: 'ready' },
      subscriber,
      cluster: false,
      prefix: 'p:',
      timeoutMs: 1_000,
      unresponsive: () => false,
    } as unknown as RedisClients;
    const engine = createRedisEngine(clients, logger);
    const log: string[] = [];
    engine.onReconnect(() => log.push('reconnected'));
    const feed = engine.subscribe('investigation:steps', (event) => log.push(event.id));
    subscriber.confirm();
    await feed.ready;
    const payload = JSON.stringify(draft(0));
    subscriber.emit('message', 'p:{t:investigation:steps}:c', `1-0 ${payload}`);
    expect(log).toEqual(['1-0']);

    // Cut, reconnected: ioredis resubscribed by itself, and a message comes before our SUBSCRIBE is answered.
    subscriber.emit('close');
    subscriber.emit('ready');
    subscriber.emit('message', 'p:{t:investigation:steps}:c', `5-0 ${payload}`);
    expect(log).toEqual(['1-0']);
    subscriber.confirm();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['1-0', 'reconnected', '5-0']);

    subscriber.emit('message', 'p:{t:investigation:steps}:c', `6-0 ${payload}`);
    expect(log).toEqual(['1-0', 'reconnected', '5-0', '6-0']);

    // Cut twice: only the confirmation of the latest reconnect releases anything.
    subscriber.emit('close');
    subscriber.emit('ready');
    const stale = subscriber.pending.splice(0);
    subscriber.emit('close');
    subscriber.emit('ready');
    subscriber.emit('message', 'p:{t:investigation:steps}:c', `7-0 ${payload}`);
    for (const { resolve } of stale) resolve(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['1-0', 'reconnected', '5-0', '6-0']);
    // A resubscription Redis refuses while the connection stays up: the catch-up still runs and live is not held for ever.
    subscriber.refuse();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['1-0', 'reconnected', '5-0', '6-0', 'reconnected', '7-0']);
    feed.close();
    await engine.close();
  });
});
