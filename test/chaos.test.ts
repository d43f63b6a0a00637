import { setTimeout as delay } from 'node:timers/promises';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import { Redis } from 'ioredis';
import superjson from 'superjson';
import { expect, test } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../server/auth/issueToken';
import { ApiError } from '../server/errors';
import type { AppRouter } from '../server/index';
import { compareEventIds } from '../shared/eventId';
import type { RealtimeEvent } from '../shared/events';
import type { Health } from '../shared/health';
import { type Collector, collect, type InvestigationItem, type NotificationItem } from './support/collect';
import { expectRefused, refusalOf } from './support/errors';
import { postMutation, startNodeProcess } from './support/nodeProcess';
import { describeWithRedis, REDIS_URL, startOwnRedis, uniquePrefix } from './support/redis';
import { startServer, type TestServer } from './support/server';
import { WAIT_MS, waitFor } from './support/wait';

const INVESTIGATION = 'inv-chaos';
const READER = 'reader-n';

/** Which publish an event came from: every publish carries its sequence number. */
function seqOf(event: RealtimeEvent): number | null {
  if (event.type === 'investigation_update' && event.data.updateType === 'progress') return Number(event.data.stage?.replace('seq ', ''));
  if (event.type === 'notification') return Number(event.data.title.replace('n ', ''));
  return null;
}

function progressUpdate(seq: number) {
  return { investigationId: INVESTIGATION, updateType: 'progress' as const, data: { progress: seq % 101, stage: `seq ${seq}` } };
}

function notification(seq: number) {
  return { userIds: [READER], title: `n ${seq}`, body: 'chaos', level: 'info' as const };
}

async function healthOf(httpUrl: string): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${httpUrl}/api/v1/ws/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

type Phase = 'before' | 'outage' | 'restarting' | 'after';

interface Attempt {
  seq: number;
  topic: 'investigation' | 'notification';
  via: string;
  /** The phase when the call was made and when it answered: only calls wholly inside the outage must fail. */
  startedIn: Phase;
  endedIn: Phase;
  id?: string;
  error?: { inProcess: boolean; isTrpcError?: boolean; status?: number; code: unknown; reason: unknown; message?: string };
}

interface Via {
  via: string;
  topic: Attempt['topic'];
  run(seq: number): Promise<Pick<Attempt, 'id' | 'error'>>;
}

/** An in-process publishing function: its id, or the error it threw (never anything silent). */
function inProcess(via: string, topic: Attempt['topic'], call: (seq: number) => Promise<string>): Via {
  return {
    via,
    topic,
    async run(seq) {
      try {
        return { id: await call(seq) };
      } catch (err) {
        return {
          error: {
            inProcess: true,
            isTrpcError: err instanceof TRPCError,
            code: (err as { code?: unknown }).code,
            reason: err instanceof ApiError ? err.reason : undefined,
            message: (err as Error).message,
          },
        };
      }
    },
  };
}

function overHttp(
  via: string,
  topic: Attempt['topic'],
  httpUrl: string,
  token: string,
  procedure: string,
  input: (seq: number) => unknown,
): Via {
  return {
    via,
    topic,
    async run(seq) {
      const outcome = await postMutation(httpUrl, token, procedure, input(seq));
      const id = outcome.id ?? outcome.ids?.[0];
      if (outcome.status === 200 && id) return { id };
      return { error: { inProcess: false, status: outcome.status, code: outcome.code, reason: outcome.reason } };
    },
  };
}

/**
 * What one subscriber received against what the publishers were told:
 * strictly increasing ids (order, no duplicate), every accepted event, and
 * nothing else but events whose publish reported an error (stored all the
 * same: the error came after Redis had written them). Returns those extras.
 */
function checkDelivery(name: string, received: readonly { id: string; data: RealtimeEvent }[], attempts: readonly Attempt[]) {
  const accepted = attempts.filter((a) => a.id !== undefined);
  const acceptedBySeq = new Map(accepted.map((a) => [a.seq, a.id!]));
  const erroredSeqs = new Set(attempts.filter((a) => a.error).map((a) => a.seq));
  const ids = received.map((item) => item.id);
  for (let i = 1; i < ids.length; i++) {
    if (!(compareEventIds(ids[i - 1]!, ids[i]!) < 0))
      throw new Error(`${name}: ids not strictly increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
  }
  const receivedIds = new Set(ids);
  const missing = accepted.filter((a) => !receivedIds.has(a.id!));
  expect(
    missing.map((a) => `${a.seq} ${a.id} via ${a.via}`),
    `${name}: accepted events that never arrived`,
  ).toEqual([]);
  const extras: { seq: number | null; id: string }[] = [];
  for (const item of received) {
    const seq = seqOf(item.data);
    if (seq !== null && acceptedBySeq.get(seq) === item.id) continue;
    extras.push({ seq, id: item.id });
  }
  const unexplained = extras.filter((e) => e.seq === null || !erroredSeqs.has(e.seq) || acceptedBySeq.has(e.seq));
  expect(unexplained, `${name}: events that no failed publish explains`).toEqual([]);
  return extras;
}

async function investigationSubscriber(node: TestServer, user: string, closes: unknown[]) {
  const token = await node.token({ sub: user, investigations: [INVESTIGATION] });
  const { client } = node.wsClient({ token, onClose: (cause) => closes.push({ user, cause }) });
  const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: INVESTIGATION }, o));
  await sub.started;
  return sub;
}

async function notificationSubscriber(node: TestServer, closes: unknown[]) {
  const { client } = node.wsClient({ token: await node.token({ sub: READER }), onClose: (cause) => closes.push({ user: READER, cause }) });
  const sub = collect<NotificationItem>((o) => client.notification.onNotification.subscribe(undefined, o));
  await sub.started;
  return sub;
}

describeWithRedis('faults: Redis going away, a node killed', () => {
  test('Redis killed and restarted while events are published on two nodes: publishes fail clearly meanwhile, nodes stay up and degraded, and every accepted event reaches every subscriber in order', async () => {
    await using own = await startOwnRedis();
    const prefix = uniquePrefix();
    await using a = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });
    await using b = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });

    const closes: unknown[] = [];
    const onA = await investigationSubscriber(a, 'watcher-a', closes);
    const onB = await investigationSubscriber(b, 'watcher-b', closes);
    const notifications = await notificationSubscriber(b, closes);
    const subscribers: [string, Collector<InvestigationItem> | Collector<NotificationItem>, Attempt['topic']][] = [
      ['investigation subscriber on A', onA, 'investigation'],
      ['investigation subscriber on B', onB, 'investigation'],
      ['notification subscriber on B', notifications, 'notification'],
    ];

    const serviceToken = await a.token({ sub: 'backend', roles: ['service'] });
    const vias: Via[] = [
      inProcess('A in-process', 'investigation', async (seq) => (await a.server.notifyInvestigationUpdate(progressUpdate(seq))).id),
      inProcess('B in-process', 'investigation', async (seq) => (await b.server.notifyInvestigationUpdate(progressUpdate(seq))).id),
      overHttp('A http', 'investigation', a.address.httpUrl, serviceToken, 'investigation.notifyUpdate', progressUpdate),
      overHttp('B http', 'investigation', b.address.httpUrl, serviceToken, 'investigation.notifyUpdate', progressUpdate),
      inProcess('A in-process notification', 'notification', async (seq) => (await a.server.sendNotification(notification(seq))).ids[0]!),
      overHttp('B http notification', 'notification', b.address.httpUrl, serviceToken, 'notification.send', notification),
    ];

    let phase: Phase = 'before';
    let running = true;
    const attempts: Attempt[] = [];
    const publishing = (async () => {
      for (let seq = 0; running; seq++) {
        const via = vias[seq % vias.length]!;
        const startedIn = phase;
        const outcome = await via.run(seq);
        attempts.push({ seq, topic: via.topic, via: via.via, startedIn, endedIn: phase, ...outcome });
        // Pacing only: a publish refused during the outage answers at once.
        await delay(2);
      }
    })();
    const count = (pred: (a: Attempt) => boolean) => () => attempts.filter(pred).length;

    try {
      await waitFor(
        count((x) => x.id !== undefined),
        (n) => n >= 30,
        '30 accepted publishes before the outage',
      );
      await onA.until((items) => items.length >= 10, 'events on A before the outage');

      await own.stop();
      for (const node of [a, b]) {
        await waitFor(
          () => healthOf(node.address.httpUrl),
          (h) => h.status === 503,
          'health to turn degraded',
        );
      }
      phase = 'outage';
      const inOutage = (x: Attempt) => x.startedIn === 'outage' && x.endedIn === 'outage';
      await waitFor(count(inOutage), (n) => n >= vias.length * 3, 'publishes attempted during the outage');

      // The nodes are up and say why they are degraded.
      for (const node of [a, b]) {
        const health = await healthOf(node.address.httpUrl);
        expect(health.status).toBe(503);
        expect(health.body.status).toBe('degraded');
        expect(health.body.engine).toEqual({ kind: 'redis', status: 'degraded', reason: 'redis_unreachable' });
      }
      // Every publish wholly inside the outage failed, with the contract's error, never silently.
      const duringOutage = attempts.filter(inOutage);
      expect(duringOutage.filter((x) => x.id !== undefined)).toEqual([]);
      for (const x of duringOutage) {
        if (x.error!.inProcess) {
          expect(x.error, `${x.via} #${x.seq}`).toMatchObject({
            isTrpcError: true,
            code: 'SERVICE_UNAVAILABLE',
            reason: 'engine_unavailable',
          });
        } else {
          expect(x.error, `${x.via} #${x.seq}`).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'engine_unavailable' });
        }
      }
      expect(new Set(duringOutage.map((x) => x.via))).toEqual(new Set(vias.map((v) => v.via)));
      // Clients stay connected through the outage.
      expect(a.server.stats().connections).toBe(1);
      expect(b.server.stats().connections).toBe(2);
      // A new subscription that needs Redis to start is refused the same clear way.
      const { client: lateClient } = a.wsClient({ token: await a.token({ sub: 'late-reader' }) });
      const late = collect<NotificationItem>((o) => lateClient.notification.onNotification.subscribe(undefined, o));
      expectRefused(refusalOf(await late.failed()), 'SERVICE_UNAVAILABLE', 'engine_unavailable');

      phase = 'restarting';
      await own.start();
      for (const node of [a, b]) {
        await waitFor(
          () => healthOf(node.address.httpUrl),
          (h) => h.status === 200 && h.body.status === 'healthy',
          'health to be healthy again',
        );
      }
      phase = 'after';
      const afterRestart = (x: Attempt) => x.startedIn === 'after' && x.id !== undefined;
      await waitFor(count(afterRestart), (n) => n >= 30, '30 accepted publishes after Redis came back');
    } catch (err) {
      // A publish that never answers is itself a failure: do not wait for it.
      running = false;
      // Redis back, so the nodes can close and the failure is reported.
      if (own.pid === undefined) await own.start();
      throw err;
    }
    running = false;
    await publishing;

    expect(closes).toEqual([]);
    // Any error a publisher saw, whatever the phase, was a clear one.
    for (const x of attempts.filter((x) => x.error)) {
      expect(x.error!.code, `${x.via} #${x.seq}: ${JSON.stringify(x.error)}`).toBe('SERVICE_UNAVAILABLE');
      if (!x.error!.inProcess) expect(x.error!.status).toBe(503);
    }

    const extras: string[] = [];
    for (const [name, sub, topic] of subscribers) {
      const mine = attempts.filter((x) => x.topic === topic);
      const last = mine.filter((x) => x.id !== undefined).at(-1)!;
      const items: readonly { id: string; data: RealtimeEvent }[] = await (sub as Collector<{ id: string; data: RealtimeEvent }>).until(
        (got) => got.some((item) => item.id === last.id),
        `${name} to receive the last accepted event ${last.id}`,
      );
      expect(sub.error).toBeUndefined();
      for (const extra of checkDelivery(name, items, mine)) {
        const refusedCall = mine.find((x) => x.seq === extra.seq)!;
        extras.push(`${name}: #${extra.seq} ${extra.id} (${refusedCall.via}, told ${String(refusedCall.error!.reason)})`);
      }
    }
    const accepted = attempts.filter((x) => x.id !== undefined);
    console.log(
      `redis outage: ${attempts.length} publishes, ${accepted.length} accepted ` +
        `(${accepted.filter((x) => x.startedIn === 'before').length} before, ${accepted.filter((x) => x.startedIn !== 'before').length} after), ` +
        `${attempts.filter((x) => x.error).length} refused; stored although refused: ${extras.length === 0 ? 'none' : extras.join(', ')}`,
    );
  });

  test('a node told to stop while Redis is away still stops: its shutdown does not wait for Redis', async () => {
    await using own = await startOwnRedis();
    await using a = await startServer({ redisUrl: own.url, redisKeyPrefix: uniquePrefix() });
    const closes: unknown[] = [];
    // A live subscription, so the node has a channel to leave while Redis cannot hear it.
    await investigationSubscriber(a, 'watcher-a', closes);
    await own.stop();
    await waitFor(
      () => healthOf(a.address.httpUrl),
      (h) => h.status === 503,
      'health to turn degraded',
    );

    const stopped = a.server.close().then(() => 'stopped');
    const bound = delay(WAIT_MS, 'still stopping', { ref: false });
    const outcome = await Promise.race([stopped, bound]);
    // With Redis back, a stuck shutdown completes and the failure is reported instead of a hang.
    if (outcome !== 'stopped') await own.start();
    expect(outcome).toBe('stopped');
    expect(closes).toHaveLength(1);
  });

  test("the nodes' live feed cut (Redis drops their pub/sub connections) while publishing goes on: subscribers on both nodes get the events they missed, in order, from the streams", async () => {
    await using own = await startOwnRedis();
    const prefix = uniquePrefix();
    await using a = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });
    await using b = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });
    const closes: unknown[] = [];
    const onA = await investigationSubscriber(a, 'watcher-a', closes);
    const onB = await investigationSubscriber(b, 'watcher-b', closes);
    // A topic with no event at all before the cut: its catch-up must start from the topic's beginning.
    const inbox = await notificationSubscriber(b, closes);

    const ids: string[] = [];
    const publish = async (node: TestServer, seq: number) =>
      ids.push((await node.server.notifyInvestigationUpdate(progressUpdate(seq))).id);
    for (let seq = 0; seq < 10; seq++) await publish(seq % 2 === 0 ? a : b, seq);
    await onA.take(10);
    await onB.take(10);

    const admin = new Redis(own.url);
    try {
      // Redis drops every subscriber connection before it answers: the next
      // publishes reach no node live, until the nodes reconnect (after their
      // reconnect backoff) and resubscribe.
      expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(2);
    } finally {
      admin.disconnect();
    }
    const notified: string[] = [];
    for (let seq = 10; seq < 40; seq++) {
      if (seq < 15) notified.push((await a.server.sendNotification(notification(seq))).ids[0]!);
      await publish(seq % 2 === 0 ? a : b, seq);
    }

    const inboxGot = await inbox.take(notified.length);
    expect(inboxGot.map((item) => item.id)).toEqual(notified);
    for (const sub of [onA, onB]) {
      const got = await sub.take(ids.length);
      expect(got.map((item) => item.id)).toEqual(ids);
      expect(got.map((item) => seqOf(item.data))).toEqual(ids.map((_, i) => i));
    }
    expect(closes).toEqual([]);
  });

  test('a node killed with SIGKILL: its client reconnects to another node by itself and resumes from its last event id, with nothing lost or repeated', async () => {
    const JWT_SECRET = 'chaos-test-secret-that-is-long-enough-for-hs256';
    const env = { PORT: '0', HOST: '127.0.0.1', JWT_SECRET, REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), LOG_LEVEL: 'warn' };
    await using a = await startNodeProcess(env);
    await using b = await startNodeProcess(env);

    let currentUrl = a.wsUrl;
    let opens = 0;
    const userToken = await issueToken(JWT_SECRET, { sub: 'survivor', investigations: [INVESTIGATION] });
    const serviceToken = await issueToken(JWT_SECRET, { sub: 'backend', roles: ['service'] });
    const wsClient = createWSClient({
      // Called at every (re)connection: where a load balancer would send the client next.
      url: () => currentUrl,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams: async () => ({ token: userToken }),
      retryDelayMs: () => 100,
      onOpen: () => opens++,
    });
    let running = true;
    try {
      const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
      const sub = collect<InvestigationItem>((o) => trpc.investigation.onUpdate.subscribe({ investigationId: INVESTIGATION }, o));
      await sub.started;

      const accepted: string[] = [];
      const refused: unknown[] = [];
      const publishing = (async () => {
        for (let seq = 0; running; seq++) {
          const outcome = await postMutation(b.httpUrl, serviceToken, 'investigation.notifyUpdate', progressUpdate(seq));
          if (outcome.status === 200 && outcome.id) accepted.push(outcome.id);
          else refused.push(outcome);
          await delay(2);
        }
      })();

      await sub.until((items) => items.length >= 20, '20 events through node A');
      await a.kill();
      const atKill = accepted.length;
      // Published while the client has no node: they must come from the stream when it resumes.
      await waitFor(
        () => accepted.length,
        (n) => n >= atKill + 20,
        '20 publishes while node A is dead',
      );
      expect(opens).toBe(1);
      currentUrl = b.wsUrl;
      await waitFor(
        () => opens,
        (n) => n === 2,
        'the client to reconnect, to node B',
      );
      const atReconnect = accepted.length;
      await waitFor(
        () => accepted.length,
        (n) => n >= atReconnect + 20,
        '20 publishes after the client reconnected',
      );
      running = false;
      await publishing;

      expect(refused).toEqual([]);
      const got = await sub.until((items) => items.some((item) => item.id === accepted.at(-1)), 'the last accepted event');
      expect(got.map((item) => item.id)).toEqual(accepted);
      expect(got.map((item) => seqOf(item.data))).toEqual(accepted.map((_, i) => i));
      expect(sub.error).toBeUndefined();
    } finally {
      running = false;
      wsClient.close();
    }
    // Every wait has its own bound; this one only has to let them report first.
  }, 60_000);
});
