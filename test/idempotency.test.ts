import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import type { RealtimeConfig } from '../server/config';
import {
  type AnalysisItem,
  type ChatItem,
  type Collector,
  collect,
  type InvestigationItem,
  type NotificationItem,
} from './support/collect';
import { expectRefused, rejectionOf } from './support/errors';
import { startFaultyRedisProxy } from './support/faultyRedisProxy';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { scrape, seriesValue } from './support/scrape';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

/**
 * Idempotent publishing: an `idempotencyKey` on every publish mutation and
 * in-process function. Real servers, real engines (memory and Redis); the
 * lost reply is a real Redis behind a proxy that swallows one answer.
 */

type Engine = 'memory' | 'redis';

async function serverOn(engine: Engine, limits: Partial<RealtimeConfig['limits']> = {}) {
  return startServer({ limits, ...(engine === 'redis' ? { redisUrl: REDIS_URL, redisKeyPrefix: uniquePrefix() } : {}) });
}

async function service(srv: TestServer, sub = 'backend-a') {
  return srv.httpClient(await srv.token({ sub, roles: ['service'] }));
}

/** A user's subscription to an investigation, started. */
async function watchInvestigation(srv: TestServer, investigationId: string): Promise<Collector<InvestigationItem>> {
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'viewer', investigations: ['*'] }) });
  const items = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
  await items.started;
  return items;
}

const status = (investigationId: string, value: 'running' | 'completed', idempotencyKey?: string) => ({
  investigationId,
  updateType: 'status' as const,
  data: { status: value },
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});

/** Publishes a marker without a key and waits for it: everything published before it has arrived by then. */
async function settle(srv: TestServer, items: Collector<InvestigationItem>, investigationId: string): Promise<string[]> {
  const { id } = await srv.server.notifyInvestigationUpdate(status(investigationId, 'completed'));
  const got = await items.until((all) => all.some((item) => item.id === id), 'the marker');
  return got.map((item) => item.id);
}

const engines: Engine[] = ['memory', 'redis'];

for (const engine of engines) {
  const suite = engine === 'redis' ? describeWithRedis : describe;

  suite(`idempotencyKey (${engine} engine)`, () => {
    test('over HTTP: the same key returns the same id, the subscriber gets one event, and only one counts as published', async () => {
      await using srv = await serverOn(engine);
      const api = await service(srv);
      const items = await watchInvestigation(srv, 'inv-1');
      const published = () =>
        scrape(srv.address.httpUrl).then((s) => seriesValue(s, 'realtime_events_published_total{type="investigation_update"}'));

      const first = await api.investigation.notifyUpdate.mutate(status('inv-1', 'running', 'order-1'));
      const again = await api.investigation.notifyUpdate.mutate(status('inv-1', 'running', 'order-1'));
      const concurrent = await Promise.all(
        Array.from({ length: 10 }, () => api.investigation.notifyUpdate.mutate(status('inv-1', 'running', 'order-1'))),
      );
      expect(again).toEqual(first);
      expect(concurrent).toEqual(Array.from({ length: 10 }, () => first));
      expect(await published()).toBe(1);

      const ids = await settle(srv, items, 'inv-1');
      expect(ids).toEqual([first.id, ids[1]]);
      expect(await published()).toBe(2);

      // The other publish mutations, likewise.
      const anomaly = {
        investigationId: 'inv-1',
        anomaly: { severity: 'high' as const, description: 'd', contractId: 'CT-1', confidence: 0.5 },
      };
      const a1 = await api.investigation.notifyAnomaly.mutate({ ...anomaly, idempotencyKey: 'anomaly-1' });
      expect(await api.investigation.notifyAnomaly.mutate({ ...anomaly, idempotencyKey: 'anomaly-1' })).toEqual(a1);
      const analysis = { analysisId: 'an-1', updateType: 'status' as const, data: { status: 'running' as const }, idempotencyKey: 'an-1' };
      const n1 = await api.analysis.notifyUpdate.mutate(analysis);
      expect(await api.analysis.notifyUpdate.mutate(analysis)).toEqual(n1);
      expect((await settle(srv, items, 'inv-1')).filter((id) => id === a1.id)).toHaveLength(1);
    });

    test('in-process: the same key returns the same id and stores one event; a payload with the timestamp as a Date or as its ISO string is the same payload', async () => {
      await using srv = await serverOn(engine);
      const items = await watchInvestigation(srv, 'inv-2');
      const at = new Date('2026-11-28T10:00:00.000Z');
      const input = { ...status('inv-2', 'running', 'k'), data: { status: 'running' as const, timestamp: at } };
      const first = await srv.server.notifyInvestigationUpdate(input);
      expect(await srv.server.notifyInvestigationUpdate(input)).toEqual(first);
      expect(await srv.server.notifyInvestigationUpdate({ ...input, data: { status: 'running', timestamp: at.toISOString() } })).toEqual(
        first,
      );
      const ids = await settle(srv, items, 'inv-2');
      expect(ids).toEqual([first.id, ids[1]]);

      const analysis = { analysisId: 'an-2', updateType: 'status' as const, data: { status: 'running' as const }, idempotencyKey: 'k' };
      const { client } = srv.wsClient({ token: await srv.token({ sub: 'viewer', analyses: ['*'] }) });
      const analysisItems = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-2' }, o));
      await analysisItems.started;
      const a1 = await srv.server.notifyAnalysisUpdate(analysis);
      expect(await srv.server.notifyAnalysisUpdate(analysis)).toEqual(a1);
      const marker = await srv.server.notifyAnalysisUpdate({ ...analysis, idempotencyKey: undefined });
      const got = await analysisItems.until((all) => all.some((i) => i.id === marker.id), 'the marker');
      expect(got.map((i) => i.id)).toEqual([a1.id, marker.id]);
    });

    test('a different payload under the same key is CONFLICT (idempotency_conflict) and publishes nothing, also when it names another topic', async () => {
      await using srv = await serverOn(engine);
      const api = await service(srv);
      const items = await watchInvestigation(srv, 'inv-3');
      const first = await api.investigation.notifyUpdate.mutate(status('inv-3', 'running', 'k'));
      for (const other of [status('inv-3', 'completed', 'k'), status('inv-3-other', 'running', 'k')]) {
        expectRefused(await rejectionOf(() => api.investigation.notifyUpdate.mutate(other)), 'CONFLICT', 'idempotency_conflict');
      }
      // In-process, the same: an ApiError with the reason.
      await srv.server.notifyInvestigationUpdate(status('inv-3', 'running', 'mine'));
      const inProcess = await srv.server.notifyInvestigationUpdate(status('inv-3', 'completed', 'mine')).catch((err: unknown) => err);
      expect(inProcess).toMatchObject({ code: 'CONFLICT', reason: 'idempotency_conflict' });
      const ids = await settle(srv, items, 'inv-3');
      expect(ids).toHaveLength(3);
      expect(ids[1]).not.toBe(first.id);
      expect(ids[0]).toBe(first.id);
      const otherTopic = await watchInvestigation(srv, 'inv-3-other');
      expect(await settle(srv, otherTopic, 'inv-3-other')).toHaveLength(1);
    });

    test('keys are per publisher and per procedure', async () => {
      await using srv = await serverOn(engine);
      const a = await service(srv, 'backend-a');
      const b = await service(srv, 'backend-b');
      const items = await watchInvestigation(srv, 'inv-4');
      const fromA = await a.investigation.notifyUpdate.mutate(status('inv-4', 'running', 'shared'));
      const fromB = await b.investigation.notifyUpdate.mutate(status('inv-4', 'running', 'shared'));
      const inProcess = await srv.server.notifyInvestigationUpdate(status('inv-4', 'running', 'shared'));
      const anomaly = await a.investigation.notifyAnomaly.mutate({
        investigationId: 'inv-4',
        anomaly: { severity: 'low', description: 'd', contractId: 'CT-4', confidence: 0.1 },
        idempotencyKey: 'shared',
      });
      expect(new Set([fromA.id, fromB.id, inProcess.id, anomaly.id]).size).toBe(4);
      expect(await a.investigation.notifyUpdate.mutate(status('inv-4', 'running', 'shared'))).toEqual(fromA);
      expect(await b.investigation.notifyUpdate.mutate(status('inv-4', 'running', 'shared'))).toEqual(fromB);
      expect(await settle(srv, items, 'inv-4')).toHaveLength(5);
    });

    test('after IDEMPOTENCY_TTL_SECONDS the key is free again', async () => {
      await using srv = await serverOn(engine, { IDEMPOTENCY_TTL_SECONDS: 1 });
      const api = await service(srv);
      const items = await watchInvestigation(srv, 'inv-5');
      const first = await api.investigation.notifyUpdate.mutate(status('inv-5', 'running', 'k'));
      // Within the ttl each retry is answered from the record and stores nothing; once it lapses one stores anew.
      const later = await waitFor(
        () => api.investigation.notifyUpdate.mutate(status('inv-5', 'running', 'k')),
        (result) => result.id !== first.id,
        'the key to lapse',
      );
      expect(await api.investigation.notifyUpdate.mutate(status('inv-5', 'running', 'k'))).toEqual(later);
      const ids = await settle(srv, items, 'inv-5');
      expect(ids).toEqual([first.id, later.id, ids[2]]);
    });

    test('notification.send: the key covers the whole call, with userIds and with broadcast', async () => {
      await using srv = await serverOn(engine);
      const api = await service(srv);
      const inboxes = new Map<string, Collector<NotificationItem>>();
      const connect = async (user: string) => {
        const { client } = srv.wsClient({ token: await srv.token({ sub: user }) });
        const inbox = collect<NotificationItem>((o) => client.notification.onNotification.subscribe({}, o));
        await inbox.started;
        inboxes.set(user, inbox);
      };
      const users = [`ana-${engine}`, `bia-${engine}`];
      for (const user of users) await connect(user);
      const note = { title: 't', body: 'b', level: 'info' as const };

      const direct = await api.notification.send.mutate({ userIds: users, ...note, idempotencyKey: 'n-1' });
      expect(direct.ids).toHaveLength(2);
      expect(await api.notification.send.mutate({ userIds: users, ...note, idempotencyKey: 'n-1' })).toEqual(direct);
      expectRefused(
        await rejectionOf(() => api.notification.send.mutate({ userIds: [users[0]!], ...note, idempotencyKey: 'n-1' })),
        'CONFLICT',
        'idempotency_conflict',
      );

      const broadcast = await api.notification.send.mutate({ broadcast: true, ...note, idempotencyKey: 'n-2' });
      expect(broadcast.ids.length).toBeGreaterThanOrEqual(2);
      // Someone new is around now: the retry is the same call, with the same ids, and reaches no one new.
      const late = `cid-${engine}`;
      await connect(late);
      expect(await api.notification.send.mutate({ broadcast: true, ...note, idempotencyKey: 'n-2' })).toEqual(broadcast);

      const marker = await api.notification.send.mutate({ userIds: [...users, late], ...note, title: 'marker' });
      for (const [i, user] of [...users, late].entries()) {
        const got = await inboxes.get(user)!.until((all) => all.some((item) => item.id === marker.ids[i]), `the marker for ${user}`);
        const ids = got.map((item) => item.id);
        if (user === late) expect(ids).toEqual([marker.ids[i]]);
        else {
          expect(ids).toHaveLength(3);
          expect(ids).toContain(direct.ids[i]);
          expect(new Set(ids).size).toBe(3);
        }
      }
    });

    test('an investigation update copied to a watching chat session: a retry copies nothing again', async () => {
      await using srv = await serverOn(engine);
      const api = await service(srv);
      const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-6'] }) });
      const chat = collect<ChatItem>((o) => client.chat.onEvent.subscribe({ sessionId: `s-${engine}` }, o));
      await chat.started;
      await client.chat.watchInvestigation.mutate({ sessionId: `s-${engine}`, investigationId: 'inv-6' });
      const first = await api.investigation.notifyUpdate.mutate(status('inv-6', 'running', 'k'));
      await api.investigation.notifyUpdate.mutate(status('inv-6', 'running', 'k'));
      const marker = await api.investigation.notifyUpdate.mutate(status('inv-6', 'completed'));
      const got = await chat.until((all) => all.filter((i) => i.data.type === 'investigation_update').length >= 2, 'the copies');
      const copies = got.filter((i) => i.data.type === 'investigation_update');
      expect(copies).toHaveLength(2);
      expect(copies.map((c) => (c.data.data as { status: string }).status)).toEqual(['running', 'completed']);
      expect(first.id).not.toBe(marker.id);
    });

    test('the key is checked: empty, too long or not printable is BAD_REQUEST', async () => {
      await using srv = await serverOn(engine);
      const api = await service(srv);
      for (const key of ['', 'x'.repeat(201), 'has space', 'tab\t', 'ção']) {
        const refused = await rejectionOf(() => api.investigation.notifyUpdate.mutate(status('inv-7', 'running', key)));
        expect(refused.code, JSON.stringify(key)).toBe('BAD_REQUEST');
      }
    });
  });
}

describeWithRedis('a lost reply (Redis stored the event, the node never heard)', () => {
  test('the publish fails with engine_unavailable, the retry with the same key returns the stored id: one event in the stream, delivered once', async () => {
    const redisAddress = new URL(REDIS_URL);
    await using proxy = await startFaultyRedisProxy({ host: redisAddress.hostname, port: Number(redisAddress.port || 6379) });
    const prefix = uniquePrefix();
    await using srv = await startServer({ redisUrl: proxy.url, redisKeyPrefix: prefix });
    const api = await service(srv);
    const items = await watchInvestigation(srv, 'inv-lost');
    const direct = new Redis(REDIS_URL);
    try {
      const stream = `${prefix}{t:investigation:inv-lost}:s`;
      // The claimed publish script names the topic's idempotency record.
      proxy.loseNextReplyTo('}:idem:');
      const refused = await rejectionOf(() => api.investigation.notifyUpdate.mutate(status('inv-lost', 'running', 'lost-1')));
      expectRefused(refused, 'SERVICE_UNAVAILABLE', 'engine_unavailable');
      expect(proxy.cuts).toBe(1);
      // Redis did store it.
      const stored = await direct.xrange(stream, '-', '+');
      expect(stored).toHaveLength(1);
      const storedId = stored[0]![0];

      // The publisher retries with the same key until the node has reconnected.
      const retried = await waitFor(
        () => api.investigation.notifyUpdate.mutate(status('inv-lost', 'running', 'lost-1')).catch((err: unknown) => err),
        (result) => !(result instanceof Error),
        'a retry to succeed',
      );
      expect(retried).toEqual({ id: storedId });
      expect((await direct.xrange(stream, '-', '+')).map(([id]) => id)).toEqual([storedId]);

      const ids = await settle(srv, items, 'inv-lost');
      expect(ids).toEqual([storedId, ids[1]]);
      expect(await direct.xlen(stream)).toBe(2);
    } finally {
      direct.disconnect();
    }
  });
});
