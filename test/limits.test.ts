import { setImmediate as nextTurn } from 'node:timers/promises';
import { getErrorShape, TRPCError } from '@trpc/server';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { appRouter } from '../server/routers';
import { CloseCode } from '../shared/closeCodes';
import {
  type AnalysisItem,
  type ChatItem,
  type Collector,
  collect,
  type InvestigationItem,
  type NotificationItem,
} from './support/collect';
import { expectRefused, refusalOf } from './support/errors';
import { metricValue } from './support/hostile';
import { errorOf, RawWs } from './support/rawWs';
import { startServer, type TestServer, waitForEmptyServer } from './support/server';
import { waitFor } from './support/wait';

const progress = (investigationId: string, value: number) =>
  ({ investigationId, updateType: 'progress', data: { progress: value } }) as const;

const tokenQuery = (srv: TestServer, token: string) => `${srv.address.wsUrl}?token=${encodeURIComponent(token)}`;

/** Publishes in-process; the returned id is what every subscriber must receive. */
async function publishProgress(srv: TestServer, investigationId: string, value: number) {
  return srv.server.notifyInvestigationUpdate(progress(investigationId, value));
}

describe('connections per user', () => {
  test.each([
    { name: 'MAX_CONNECTIONS_PER_USER 3', limits: { MAX_CONNECTIONS_PER_USER: 3 }, max: 3 },
    { name: 'the default of 10', limits: {}, max: 10 },
  ])('$name: the extra connection is closed with 4008, the others and other users go on', async ({ limits, max }) => {
    await using srv = await startServer({ limits });
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    const admitted = [];
    for (let i = 0; i < max; i++) {
      const { client, ws } = srv.wsClient({ token });
      const sub = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
      admitted.push({ ws, sub });
    }
    await Promise.all(admitted.map(({ sub }) => sub.started));
    expect(srv.server.stats()).toMatchObject({ connections: max, users: 1 });

    await using extra = await RawWs.open(tokenQuery(srv, token));
    expect((await extra.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    expect(extra.frames.find((f) => f.error)?.error?.json?.data?.reason).toBe('too_many_connections');

    const { client: otherClient, ws: otherWs } = srv.wsClient({ token: await srv.token({ sub: 'u2', investigations: ['inv-1'] }) });
    const other = collect<InvestigationItem>((h) => otherClient.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
    await other.started;

    const { id } = await publishProgress(srv, 'inv-1', 42);
    for (const sub of [...admitted.map((a) => a.sub), other]) expect((await sub.take(1))[0]!.id).toBe(id);
    await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === max + 1 && s.users === 2,
      `${max + 1} connections of 2 users`,
    );

    // A slot freed by a closed connection can be taken again.
    await admitted.pop()!.ws.close();
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === max,
      'the closed connection to be gone',
    );
    await using again = await RawWs.open(tokenQuery(srv, token));
    again.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await again.response(1)).result?.type).toBe('started');
    await again.close();

    await Promise.all([...admitted.map((a) => a.ws.close()), otherWs.close()]);
    await waitForEmptyServer(srv);
  });
});

describe('subscriptions per connection', () => {
  test.each([
    { name: 'MAX_SUBSCRIPTIONS_PER_CONNECTION 5', limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: 5 }, max: 5 },
    // The default rate limit (20/s, burst 40) would refuse most of 101 subscriptions first.
    { name: 'the default of 100', limits: { RATE_LIMIT_PER_SECOND: 10_000, RATE_LIMIT_BURST: 10_000 }, max: 100 },
  ])('$name: the extra subscription fails with TOO_MANY_REQUESTS, the others go on', async ({ limits, max }) => {
    await using srv = await startServer({ limits });
    const token = await srv.token({ sub: 'u1', investigations: ['*'] });
    const { client } = srv.wsClient({ token });
    const subscribe = (investigationId: string) =>
      collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId }, h));

    const subs = Array.from({ length: max }, (_, i) => subscribe(`inv-${i}`));
    await Promise.all(subs.map((s) => s.started));
    expect(srv.server.stats().subscriptions).toBe(max);

    const extra = subscribe('inv-extra');
    expectRefused(refusalOf(await extra.failed()), 'TOO_MANY_REQUESTS', 'too_many_subscriptions');

    const ids = await Promise.all(subs.map((_, i) => publishProgress(srv, `inv-${i}`, i % 100)));
    await Promise.all(subs.map(async (sub, i) => expect((await sub.take(1))[0]!.id).toBe(ids[i]!.id)));

    // The limit is per connection: another connection of the same user has its own.
    const { client: second } = srv.wsClient({ token });
    await collect<InvestigationItem>((h) => second.investigation.onUpdate.subscribe({ investigationId: 'inv-extra' }, h)).started;

    subs[0]!.unsubscribe();
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === max,
      'the unsubscribed slot to be released',
    );
    const replacement = subscribe('inv-extra');
    await replacement.started;
    const { id } = await publishProgress(srv, 'inv-extra', 1);
    expect((await replacement.take(1))[0]!.id).toBe(id);
  });
});

describe('incoming message size', () => {
  /** An analysis.notifyUpdate request frame of exactly `bytes` bytes (the partial result pads it). */
  function requestOfSize(id: number, bytes: number): string {
    const frame = (result: string) =>
      JSON.stringify({
        id,
        method: 'mutation',
        params: { path: 'analysis.notifyUpdate', input: { analysisId: 'an-1', updateType: 'partial_result', data: { result } } },
      });
    const text = frame('x'.repeat(bytes - Buffer.byteLength(frame(''))));
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  }

  test.each([
    { name: 'MAX_MESSAGE_BYTES 1024', limits: { MAX_MESSAGE_BYTES: 1024 }, max: 1024 },
    { name: 'the default of 1 MiB', limits: {}, max: 1024 * 1024 },
  ])('$name: a frame at the limit is served, one byte more closes the connection with 1009', async ({ limits, max }) => {
    await using srv = await startServer({ limits });
    const service = await srv.token({ sub: 'svc', roles: ['service'] });
    await using raw = await RawWs.open(tokenQuery(srv, service));

    raw.send(requestOfSize(1, max));
    const answer = await raw.response(1);
    expect(answer.error).toBeUndefined();
    expect(answer.result?.data).toMatchObject({ json: { id: expect.any(String) } });

    raw.send(requestOfSize(2, max + 1));
    expect((await raw.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(raw.frames.some((f) => f.id === 2)).toBe(false);
    await waitForEmptyServer(srv);
  });
});

describe('incoming messages per connection: every frame pays a token of its connection’s budget', () => {
  const healthQuery = (id: number) => ({ id, method: 'query', params: { path: 'system.health' } });
  const metric = (srv: TestServer, name: string) => metricValue(srv.address.httpUrl, name);

  test.each([
    { name: '5/s, burst 10', limits: { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10 }, perSecond: 5, burst: 10, calls: 25 },
    { name: 'the defaults, 20/s, burst 40', limits: {}, perSecond: 20, burst: 40, calls: 100 },
  ])(
    '$name: calls past the budget wait (the server stops reading) and are all served, in order, none refused; another connection is not held up',
    async ({ limits, perSecond, burst, calls }) => {
      await using srv = await startServer({ limits });
      const token = await srv.token({ sub: 'u1' });
      await using raw = await RawWs.open(tokenQuery(srv, token));
      const pausedBefore = await metric(srv, 'realtime_ws_reads_paused_total');

      const started = performance.now();
      for (let id = 1; id <= calls; id++) raw.send(healthQuery(id));
      // Another connection of the same user has its own budget: answered while the first still waits
      // (it needs (calls - burst) / rate seconds: 3 s here).
      await using other = await RawWs.open(tokenQuery(srv, token));
      other.send(healthQuery(1));
      expect((await other.response(1)).result?.type).toBe('data');
      const answeredMeanwhile = raw.frames.length;
      expect(answeredMeanwhile).toBeLessThan(calls);

      await raw.until(() => (raw.frames.length >= calls ? true : undefined), `${calls} answers`);
      const seconds = (performance.now() - started) / 1000;
      expect(raw.frames.map((f) => f.id)).toEqual(Array.from({ length: calls }, (_, i) => i + 1));
      expect(raw.frames.every((f) => f.result?.type === 'data' && f.error === undefined)).toBe(true);
      // Read no faster than the budget allows (+1: the frame whose pause made the connection wait).
      expect(calls).toBeLessThanOrEqual(burst + perSecond * seconds + 1);
      expect(await metric(srv, 'realtime_ws_reads_paused_total')).toBeGreaterThan(pausedBefore);
      expect(raw.isOpen).toBe(true);
    },
  );

  test('the typed client’s calls wait the same way: a burst of 100 over the defaults is served whole, on one connection', async () => {
    await using srv = await startServer();
    let opens = 0;
    let closes = 0;
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1' }), onOpen: () => opens++, onClose: () => closes++ });
    // One tick at a time: the client puts the calls of a tick in one array frame (which pays per call, below).
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      results.push(client.system.health.query());
      await nextTurn();
    }
    const settled = await Promise.allSettled(results);
    expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
    expect({ opens, closes }).toEqual({ opens: 1, closes: 0 });
  });

  test('an array frame of n calls pays n: all n are answered, and the frame after it waits until the debt is paid', async () => {
    await using srv = await startServer();
    await using raw = await RawWs.open(tokenQuery(srv, await srv.token({ sub: 'u1' })));
    const pausedBefore = await metric(srv, 'realtime_ws_reads_paused_total');
    raw.send(Array.from({ length: 80 }, (_, i) => healthQuery(i + 1)));
    await raw.until(() => (raw.frames.length >= 80 ? true : undefined), '80 answers');
    expect(await metric(srv, 'realtime_ws_reads_paused_total')).toBe(pausedBefore);

    raw.send(healthQuery(81));
    expect((await raw.response(81)).result?.type).toBe('data');
    expect(await metric(srv, 'realtime_ws_reads_paused_total')).toBe(pausedBefore + 1);
  });

  test('a connection kept over its budget for RATE_LIMIT_CLOSE_AFTER_MS is closed with 1008, having been read no faster than the budget', async () => {
    const limits = { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10, RATE_LIMIT_CLOSE_AFTER_MS: 1_000 };
    await using srv = await startServer({ limits });
    await using raw = await RawWs.open(tokenQuery(srv, await srv.token({ sub: 'u1' })));
    const framesBefore = await metric(srv, 'realtime_ws_frames_read_total');
    const started = performance.now();
    for (let id = 1; id <= 200; id++) raw.send(healthQuery(id));

    const closed = await raw.closed;
    const seconds = (performance.now() - started) / 1000;
    expect(closed).toEqual({ code: CloseCode.POLICY_VIOLATION, reason: 'rate_limited' });
    const read = (await metric(srv, 'realtime_ws_frames_read_total')) - framesBefore;
    expect(read).toBeLessThanOrEqual(10 + 5 * seconds + 1);
    // What was read was answered, in order; nothing was refused.
    expect(raw.frames.map((f) => f.id)).toEqual(Array.from({ length: raw.frames.length }, (_, i) => i + 1));
    expect(raw.frames.every((f) => f.result?.type === 'data')).toBe(true);
    expect(await metric(srv, 'realtime_ws_budget_closes_total')).toBe(1);
    await waitForEmptyServer(srv);
  });

  test('frames are paid for before authentication too: a connection that never authenticates and floods PINGs is read at its budget and closed with 1008, never answered', async () => {
    const limits = { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10, RATE_LIMIT_CLOSE_AFTER_MS: 1_000 };
    await using srv = await startServer({ limits });
    await using raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    const framesBefore = await metric(srv, 'realtime_ws_frames_read_total');
    const started = performance.now();
    for (let i = 0; i < 2_000; i++) raw.send('PING');
    const closed = await raw.closed;
    const seconds = (performance.now() - started) / 1000;
    expect(closed.code).toBe(CloseCode.POLICY_VIOLATION);
    expect(raw.frames).toEqual([]);
    expect((await metric(srv, 'realtime_ws_frames_read_total')) - framesBefore).toBeLessThanOrEqual(10 + 5 * seconds + 1);
  });

  test('a service publishing a burst of 200 events over HTTP is not throttled', async () => {
    await using srv = await startServer({ limits: { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10 } });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'] }) });
    const sub = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
    await sub.started;

    const service = srv.httpClient(await srv.token({ sub: 'svc', roles: ['service'] }));
    const published = await Promise.all(
      Array.from({ length: 200 }, (_, i) => service.investigation.notifyUpdate.mutate(progress('inv-1', i % 101))),
    );
    const received = await sub.take(200);
    expect(new Set(received.map((e) => e.id))).toEqual(new Set(published.map((p) => p.id)));
    expect(new Set(published.map((p) => p.id)).size).toBe(200);
  });
});

describe('malformed input keeps the connection up', () => {
  const cases: { name: string; send: (raw: RawWs) => void; id: number | null; code: string; names?: string }[] = [
    { name: 'a frame that is not JSON', send: (raw) => raw.send('{"id":1,"method":"subscription",'), id: null, code: 'PARSE_ERROR' },
    { name: 'an unknown procedure', send: (raw) => raw.request(1, 'query', 'investigation.nothingHere', {}), id: 1, code: 'NOT_FOUND' },
    {
      name: 'an unknown subscription',
      send: (raw) => raw.request(1, 'subscription', 'nothing.onUpdate', { investigationId: 'inv-1' }),
      id: 1,
      code: 'NOT_FOUND',
    },
    {
      name: 'a missing field',
      send: (raw) => raw.request(1, 'subscription', 'investigation.onUpdate', {}),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'investigationId',
    },
    {
      name: 'a value outside its enum',
      send: (raw) =>
        raw.request(1, 'mutation', 'investigation.notifyAnomaly', {
          investigationId: 'inv-1',
          anomaly: { severity: 'apocalyptic', description: 'd', contractId: 'ct-1', confidence: 0.5 },
        }),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'severity',
    },
    {
      name: 'an unknown updateType',
      send: (raw) => raw.request(1, 'mutation', 'investigation.notifyUpdate', { investigationId: 'inv-1', updateType: 'rumour', data: {} }),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'updateType',
    },
    {
      name: 'an extra key',
      send: (raw) => raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1', investigationID: 'inv-1' }),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'investigationID',
    },
    {
      name: 'an id with bad characters',
      send: (raw) => raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv 1; DROP TABLE' }),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'investigationId',
    },
    {
      name: 'an oversize string',
      send: (raw) => raw.request(1, 'mutation', 'chat.send', { sessionId: 'session-1', content: 'x'.repeat(8_001) }),
      id: 1,
      code: 'BAD_REQUEST',
      names: 'content',
    },
  ];

  test.each(cases)('$name: $code, then the same connection serves a subscription', async ({ send, id, code, names }) => {
    await using srv = await startServer();
    // Service (for the publishing procedures) with grants (to subscribe afterwards).
    const token = await srv.token({ sub: 'svc', roles: ['service'], investigations: ['*'] });
    await using raw = await RawWs.open(tokenQuery(srv, token));

    send(raw);
    const error = await raw.errorResponse(id);
    expect(error.data?.code).toBe(code);
    if (names) expect(error.message).toContain(names);

    raw.request(2, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await raw.response(2)).result?.type).toBe('started');
    const { id: eventId } = await publishProgress(srv, 'inv-1', 7);
    expect((await raw.waitForEvents(2, 1))[0]!.id).toBe(eventId);
    expect(raw.isOpen).toBe(true);
  });
});

describe('error replies are small and bounded, whatever the client sent', () => {
  const serviceSocket = async (srv: TestServer) =>
    RawWs.open(tokenQuery(srv, await srv.token({ sub: 'svc', roles: ['service'], investigations: ['*'] })));
  /** A superjson input whose `meta` nests deeper than the runtime's stack (its deserializer recurses), as JSON text. */
  const deepInput = `{"json":null,"meta":{"values":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;

  test('an unknown procedure named by a 100 KB path: NOT_FOUND naming the path cut to 200 characters, in a frame of under 1 KB', async () => {
    await using srv = await startServer();
    await using raw = await serviceSocket(srv);
    const texts: string[] = [];
    raw.ws.on('message', (data) => texts.push(String(data)));
    const path = `no.${'such'.repeat(25_000)}`;
    raw.request(1, 'query', path);
    const error = await raw.errorResponse(1);
    expect(error.data?.code).toBe('NOT_FOUND');
    expect(error.data?.path).toBe(`${path.slice(0, 199)}…`);
    expect(error.message.length).toBeLessThanOrEqual(500);
    expect(error.message.startsWith('No "query"-procedure on path "no.suchsuch')).toBe(true);
    expect(texts[0]!.length).toBeLessThan(1_024);
  });

  test('an input with 50 unknown keys of 1 000 characters: BAD_REQUEST in a frame of under 2 KB', async () => {
    await using srv = await startServer();
    await using raw = await serviceSocket(srv);
    const texts: string[] = [];
    raw.ws.on('message', (data) => texts.push(String(data)));
    const input: Record<string, string> = { investigationId: 'inv-1' };
    for (let i = 0; i < 50; i++) input[`${i}${'k'.repeat(1_000)}`] = 'v';
    raw.request(1, 'subscription', 'investigation.onUpdate', input);
    const error = await raw.errorResponse(1);
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(texts[0]!.length).toBeLessThan(2_048);
  });

  test('an input with 30 issues: 10 are listed, the message says how many more', () => {
    const invalid = z.array(z.string()).safeParse(Array.from({ length: 30 }, (_, i) => i));
    const shape = getErrorShape({
      config: appRouter._def._config,
      error: new TRPCError({ code: 'BAD_REQUEST', cause: invalid.error }),
      type: 'mutation',
      path: 'notification.send',
      input: undefined,
      ctx: undefined,
    });
    const { issues } = shape.data as { issues: { path: string; message: string }[] };
    expect(issues).toHaveLength(10);
    expect(issues[0]!.path).toBe('0');
    expect(shape.message).toMatch(/^invalid input: 0: .*; and 20 more$/);
  });

  test('a request id longer than 200 characters is never echoed: the frame is malformed (PARSE_ERROR, id null)', async () => {
    await using srv = await startServer();
    await using raw = await serviceSocket(srv);
    raw.send({ id: 'i'.repeat(10_000), method: 'query', params: { path: 'system.health' } });
    const frame = await raw.frame((f) => f.error !== undefined, 'an error');
    expect(frame.id).toBeNull();
    expect(JSON.stringify(frame).length).toBeLessThan(1_024);
  });

  test('input nested past the runtime’s stack: PARSE_ERROR over WebSocket, BAD_REQUEST over HTTP, and no runtime text in either', async () => {
    await using srv = await startServer();
    await using raw = await serviceSocket(srv);
    raw.send(`{"id":1,"method":"query","params":{"path":"system.health","input":${deepInput}}}`);
    const frame = await raw.frame((f) => f.error !== undefined, 'an error');
    expect(errorOf(frame)?.data?.code).toBe('PARSE_ERROR');
    expect(JSON.stringify(frame)).not.toMatch(/call stack|RangeError/i);

    const service = await srv.token({ sub: 'svc', roles: ['service'] });
    const res = await fetch(`${srv.address.httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
      body: deepInput,
    });
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(text).not.toMatch(/call stack|RangeError/i);
    expect(text.length).toBeLessThan(2_048);
  });

  test('an internal error says "internal error": its text stays in the server’s log', () => {
    const shape = getErrorShape({
      config: appRouter._def._config,
      error: new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'connect ECONNREFUSED 10.0.0.7:5432 (password=hunter2)' }),
      type: 'query',
      path: 'system.health',
      input: undefined,
      ctx: undefined,
    });
    expect(shape.message).toBe('internal error');
    expect(JSON.stringify(shape)).not.toContain('hunter2');
  });

  test('a stream of malformed frames gets one PARSE_ERROR, not one each; the connection goes on', async () => {
    await using srv = await startServer();
    await using raw = await serviceSocket(srv);
    for (let i = 0; i < 20; i++) raw.send(i % 2 === 0 ? '{"id":' : '42');
    raw.request(2, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await raw.response(2)).result?.type).toBe('started');
    const { id } = await publishProgress(srv, 'inv-1', 7);
    expect((await raw.waitForEvents(2, 1))[0]!.id).toBe(id);
    expect(raw.frames.filter((f) => f.error !== undefined)).toHaveLength(1);
  });
});

describe('keepalive', () => {
  const limits = { PING_INTERVAL_MS: 100, PEER_TIMEOUT_MS: 300 };

  test('a peer that never answers pings is closed and cleaned up', async () => {
    await using srv = await startServer({ limits });
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    await using dead = await RawWs.open(tokenQuery(srv, token), { autoPong: false });
    await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === 1 && s.users === 1,
      'the peer to be authenticated',
    );

    // Terminated, not closed politely: a dead peer would not answer a close frame either.
    expect((await dead.closed).code).toBe(1006);
    expect(dead.pings).toBeGreaterThan(0);
    await waitForEmptyServer(srv);
  });

  test('a peer that answers pings stays connected across many intervals', async () => {
    await using srv = await startServer({ limits });
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    await using alive = await RawWs.open(tokenQuery(srv, token));
    alive.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    await alive.response(1);

    // Ten pings span more than three dead-peer timeouts.
    await alive.waitForPings(10);
    expect(alive.isOpen).toBe(true);
    const { id } = await publishProgress(srv, 'inv-1', 3);
    expect((await alive.waitForEvents(1, 1))[0]!.id).toBe(id);
    expect(srv.server.stats()).toMatchObject({ connections: 1, users: 1, subscriptions: 1 });
  });
});

describe('cleanup', () => {
  test('20 users x 3 connections with every kind of subscription leave nothing behind', async () => {
    await using srv = await startServer();
    const service = srv.httpClient(await srv.token({ sub: 'svc', roles: ['service'] }));
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const connections: { close: () => Promise<void>; subs: Collector<unknown>[] }[] = [];
    const chats: { userId: string; client: ReturnType<TestServer['wsClient']>['client'] }[] = [];

    for (const [i, userId] of users.entries()) {
      const token = await srv.token({ sub: userId, investigations: ['inv-shared', `inv-${i}`], analyses: [`an-${i}`] });
      for (let c = 0; c < 3; c++) {
        const { client, ws } = srv.wsClient({ token });
        const subs: Collector<unknown>[] = [
          collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-shared' }, h)),
          collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: `inv-${i}` }, h)),
          collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: `an-${i}` }, h)),
          collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: `session-${i}` }, h)),
          collect<NotificationItem>((h) => client.notification.onNotification.subscribe(undefined, h)),
        ] as Collector<unknown>[];
        connections.push({ close: () => ws.close(), subs });
        if (c === 0) chats.push({ userId, client });
      }
    }
    const allSubs = connections.flatMap((c) => c.subs);
    await Promise.all(allSubs.map((s) => s.started));
    expect(srv.server.stats()).toMatchObject({ connections: 60, users: 20, subscriptions: 300 });

    await Promise.all(
      chats.map(async ({ client }, i) => {
        await client.chat.watchInvestigation.mutate({ sessionId: `session-${i}`, investigationId: `inv-${i}` });
        await client.chat.send.mutate({ sessionId: `session-${i}`, content: `what is the progress of inv-${i}?` });
      }),
    );
    await service.investigation.notifyUpdate.mutate(progress('inv-shared', 50));
    await Promise.all(
      users.map(async (_, i) => {
        await service.investigation.notifyAnomaly.mutate({
          investigationId: `inv-${i}`,
          anomaly: { severity: 'critical', description: 'overpriced', contractId: `ct-${i}`, confidence: 0.95 },
        });
        await service.analysis.notifyUpdate.mutate({
          analysisId: `an-${i}`,
          updateType: 'status',
          data: { status: 'running', progress: 10 },
        });
      }),
    );
    await service.notification.send.mutate({ userIds: users, title: 'Relatório pronto', body: 'ok', level: 'info' });
    await Promise.all(allSubs.map((s) => s.take(1)));

    await Promise.all(connections.map((c) => c.close()));
    await waitForEmptyServer(srv);
    await waitFor(
      () => srv.server.stats().chat.repliesInFlight,
      (n) => n === 0,
      'the assistant replies to finish',
    );
  });
});
