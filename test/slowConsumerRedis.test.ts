import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import type { Health } from '../shared/health';
import { limitDefaults } from '../shared/limits';
import { collect, type InvestigationItem } from './support/collect';
import { rssBytes, startNodeProcess } from './support/nodeProcess';
import { RawWs } from './support/rawWs';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { startServer, TEST_SECRET } from './support/server';
import { waitFor } from './support/wait';

const MB = 1024 * 1024;
const EVENT_BYTES = 64 * 1024;
/** 1 024 events of 64 KiB: 64 MiB through Redis to the node under test. */
const EVENTS = 1024;
/** Events the publisher may run ahead of the healthy subscriber: it must not be what fills the node's memory. */
const AHEAD = 16;
/**
 * V8's default heap lets the garbage of this traffic (~5 short-lived copies
 * of every event: Redis message, parsed event, two serializations, frame
 * Buffers) pile up by ~80 MB before a full collection, with or without a slow
 * client, which would drown what the node retains. A smaller heap makes the
 * node collect early, so its RSS follows what it holds.
 */
const NODE_OPTIONS = '--max-old-space-size=96 --max-semi-space-size=1';
/**
 * What the node may legitimately hold above its baseline at peak: the stuck
 * client's buffer up to SLOW_CONSUMER_BYTES (4 MiB), kept until it reads
 * again; the healthy client's events in flight (AHEAD × 64 KiB = 1 MiB, as
 * strings and as frames); and ~12 MiB of garbage between collections (what
 * the same run shows with no stuck client at all). Holding the 64 MiB for the
 * stuck client, less the few MiB its kernel socket buffers take, would add
 * ~60 MiB: a bound of half that proves the node did not.
 */
const PEAK_GROWTH_BOUND = 32 * MB;

/** The client's TCP socket under `ws`, to stop reading from it as a stuck browser tab would. */
function socketOf(raw: RawWs): Socket {
  return (raw.ws as unknown as { _socket: Socket })._socket;
}

async function subscriptionsOn(httpUrl: string): Promise<number> {
  const res = await fetch(`${httpUrl}/api/v1/ws/health`);
  return ((await res.json()) as Health).subscriptions;
}

/** Removes a test's keys: 64 MiB of stream must not stay in the shared Redis for the history's ttl. */
async function deleteKeys(prefix: string) {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

describeWithRedis('slow consumers with the Redis engine, in a server process of its own', () => {
  test('a client that stops reading while 64 MiB are published is closed with 4013, the node does not hold the data for it, and a healthy subscriber gets everything in order', async () => {
    const prefix = uniquePrefix();
    try {
      // The node under test runs as `npm start` does, with the default SLOW_CONSUMER_BYTES,
      // so its memory is its own; events reach it from another node through Redis.
      await using node = await startNodeProcess({
        PORT: '0',
        HOST: '127.0.0.1',
        JWT_SECRET: TEST_SECRET,
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'error',
        NODE_OPTIONS,
      });
      await using publisherNode = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: prefix });
      const investigationId = 'inv-heavy';
      const blob = 'x'.repeat(EVENT_BYTES);
      const ids: string[] = [];
      const publish = async (i: number) => {
        const { id } = await publisherNode.server.notifyInvestigationUpdate({
          investigationId,
          updateType: 'agent_finding',
          data: { agent: 'load', finding: `chunk ${i}`, details: { blob } },
        });
        ids.push(id);
      };

      const { client } = publisherNode.wsClient({
        token: await publisherNode.token({ sub: 'healthy', investigations: [investigationId] }),
        url: node.wsUrl,
      });
      const healthy = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
      await healthy.started;

      // Warm the node up (code paths compiled, buffers allocated) before its baseline.
      for (let i = 0; i < AHEAD; i++) await publish(i);
      await healthy.take(AHEAD);

      const token = await publisherNode.token({ sub: 'stuck', investigations: [investigationId] });
      await using stuck = await RawWs.open(`${node.wsUrl}?token=${token}`);
      stuck.request(1, 'subscription', 'investigation.onUpdate', { investigationId });
      await stuck.response(1);
      socketOf(stuck).pause();
      expect(await subscriptionsOn(node.httpUrl)).toBe(2);

      const baseline = rssBytes(node.serverPid);
      let peak = baseline;
      let freedAfter: number | null = null;
      for (let i = AHEAD; i < AHEAD + EVENTS; i++) {
        await publish(i);
        // Flow control against the healthy subscriber, so the node is never flooded faster than it delivers.
        await healthy.until((items) => items.length >= ids.length - AHEAD, 'the healthy subscriber to keep up');
        peak = Math.max(peak, rssBytes(node.serverPid));
        if (freedAfter === null && i % 8 === 0 && (await subscriptionsOn(node.httpUrl)) === 1) freedAfter = i - AHEAD + 1;
      }
      await healthy.take(ids.length);
      // The node gave up on the stuck client: its subscription is gone while its socket is still closing.
      await waitFor(
        () => subscriptionsOn(node.httpUrl),
        (n) => n === 1,
        'the stuck subscription to be freed',
      );
      const after = rssBytes(node.serverPid);

      // When the client reads again, it finds the close frame behind the data it had not read.
      socketOf(stuck).resume();
      const closed = await stuck.closed;
      expect(closed.code).toBe(CloseCode.SLOW_CONSUMER);
      // What it did get is the start of the sequence, in order, nothing skipped.
      const gotStuck = stuck.deliveries(1).map((d) => d.trackedId);
      expect(gotStuck.length).toBeGreaterThan(0);
      expect(gotStuck.length).toBeLessThan(EVENTS);
      expect(gotStuck).toEqual(ids.slice(AHEAD, AHEAD + gotStuck.length));

      expect(healthy.items.map((item) => item.id)).toEqual(ids);
      expect(healthy.error).toBeUndefined();

      const mb = (bytes: number) => (bytes / MB).toFixed(1);
      console.log(
        `slow consumer: rss baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, after ${mb(after)} MB, published ${mb(EVENTS * EVENT_BYTES)} MB ` +
          `(stuck client dropped by ${freedAfter === null ? 'the end' : `event ${freedAfter}`}, having received ${gotStuck.length} events = ${mb(gotStuck.length * EVENT_BYTES)} MB; ` +
          `SLOW_CONSUMER_BYTES ${mb(limitDefaults.SLOW_CONSUMER_BYTES)} MB, NODE_OPTIONS ${NODE_OPTIONS})`,
      );
      expect(peak - baseline).toBeLessThan(PEAK_GROWTH_BOUND);
    } finally {
      await deleteKeys(prefix);
    }
    // Every wait has its own bound; this one only has to let them report first.
  }, 60_000);
});
