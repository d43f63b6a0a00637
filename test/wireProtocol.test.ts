import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { initTRPC, tracked, transformTRPCResponse } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import superjson, { type SuperJSONResult } from 'superjson';
import { describe, expect, test } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { AppRouter } from '../server/index';
import { appRouter } from '../server/routers';
import { transformer } from '../server/trpc/transformer';
import { CloseCode } from '../shared/closeCodes';
import type { RealtimeEvent } from '../shared/events';
import { inputBounds } from '../shared/limits';
import { type AnalysisItem, collect, type InvestigationItem, type NotificationItem } from './support/collect';
import { progress } from './support/progress';
import { errorOf, type Frame, RawWs } from './support/rawWs';
import { startServer, type TestServer, waitForEmptyServer } from './support/server';
import { waitFor } from './support/wait';

/**
 * tRPC's WebSocket protocol as our own handler (server/transport/rpcSession.ts)
 * speaks it: what a client sees must be what @trpc/server/adapters/ws would
 * send, frame for frame.
 */

const SUBSCRIBE_INV_1 = { path: 'investigation.onUpdate', input: { investigationId: 'inv-1' } } as const;

/** A user allowed on every investigation and analysis, on a raw socket (token in the query). */
async function rawSubscriber(srv: TestServer, sub = 'analyst'): Promise<RawWs> {
  const token = await srv.token({ sub, investigations: ['*'], analyses: ['*'] });
  return RawWs.open(`${srv.address.wsUrl}?token=${encodeURIComponent(token)}`);
}

/** Every text frame the socket receives, exactly as sent; recorded before RawWs parses it. */
function textsOf(raw: RawWs): string[] {
  const texts: string[] = [];
  raw.ws.prependListener('message', (data, isBinary) => {
    if (!isBinary) texts.push(data.toString());
  });
  return texts;
}

/** The frames answering request `id`, as received (the texts), in order. */
function textsFor(texts: readonly string[], id: number | string): string[] {
  return texts.filter((text) => text !== 'PONG' && (JSON.parse(text) as Frame).id === id);
}

/**
 * tRPC's own adapter (applyWSSHandler) serving one subscription, `replay`,
 * that yields the given events as `tracked(event.id, event)` and completes:
 * the reference our frames are compared with. Same transformer as our router.
 */
async function startStockAdapter(events: readonly RealtimeEvent[]) {
  const t = initTRPC.create({ transformer });
  const router = t.router({
    replay: t.procedure.subscription(async function* () {
      for (const event of events) yield tracked(event.id, event);
    }),
  });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  applyWSSHandler({ wss, router });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

describe('frames are byte for byte what tRPC’s own adapter sends', () => {
  test.each([
    { name: 'a numeric id', id: 7 as number | string, jsonrpc: undefined as '2.0' | undefined },
    { name: 'a string id and jsonrpc 2.0 (echoed in every frame)', id: 'sub-a', jsonrpc: '2.0' as const },
  ])('$name: started, data frames of tracked events, stopped', async ({ id, jsonrpc }) => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    const texts = textsOf(raw);

    raw.send({ id, jsonrpc, method: 'subscription', params: SUBSCRIBE_INV_1 });
    await raw.frame((f) => f.id === id && f.result?.type === 'started', 'started');
    // Text that JSON escapes, non-ASCII, a decimal and a Date (superjson meta): whatever the event holds.
    const published = [
      await srv.server.notifyInvestigationUpdate({
        investigationId: 'inv-1',
        updateType: 'agent_finding',
        data: { agent: 'preços', finding: 'contrato "emergencial"\n✓', details: { ratio: 1.5, nested: { list: [1, null, 'três'] } } },
      }),
      await srv.server.notifyAnomalyDetected({
        investigationId: 'inv-1',
        anomaly: { severity: 'critical', description: 'sobrepreço', contractId: 'ct-1', confidence: 0.95 },
      }),
    ];
    await raw.until(
      () => (raw.frames.filter((f) => f.id === id && f.result?.type === 'data').length >= 2 ? true : undefined),
      '2 data frames',
    );
    raw.send({ id, jsonrpc, method: 'subscription.stop' });
    await raw.frame((f) => f.id === id && f.result?.type === 'stopped', 'stopped');

    const ours = textsFor(texts, id);
    expect(ours.map((text) => (JSON.parse(text) as Frame).result?.type)).toEqual(['started', 'data', 'data', 'stopped']);
    for (const text of ours) expect((JSON.parse(text) as { jsonrpc?: string }).jsonrpc).toBe(jsonrpc);

    // Each data frame, rebuilt the way tRPC's adapter builds it for a tracked
    // event: `result` is `{ type, data }`, then gets `id` and has its `data`
    // replaced (so the keys are type, data, id), then goes through the
    // router's transformer.
    const events: RealtimeEvent[] = [];
    for (const [i, text] of ours.slice(1, 3).entries()) {
      const frame = JSON.parse(text) as Frame;
      const eventId = frame.result!.id!;
      expect(eventId).toBe(published[i]!.id);
      const payload = superjson.deserialize<{ id: string; data: RealtimeEvent }>(frame.result!.data as SuperJSONResult);
      expect(payload.id).toBe(eventId);
      expect(payload.data.id).toBe(eventId);
      expect(payload.data.timestamp).toBeInstanceOf(Date);
      events.push(payload.data);

      const result: { type: 'data'; data: unknown; id?: string } = { type: 'data', data: payload.data };
      result.id = eventId;
      result.data = { id: eventId, data: payload.data };
      const rebuilt = transformTRPCResponse(appRouter._def._config, { id, jsonrpc, result });
      expect(JSON.stringify(rebuilt)).toBe(text);
    }
    expect(events[0]).toMatchObject({
      type: 'investigation_update',
      data: { finding: 'contrato "emergencial"\n✓', details: { ratio: 1.5 } },
    });
    expect(events[1]).toMatchObject({ type: 'anomaly_detected', data: { confidence: 0.95 } });

    // The same events through tRPC's own adapter: the very same bytes, frame for frame.
    await using stock = await startStockAdapter(events);
    await using reference = await RawWs.open(stock.url);
    const referenceTexts = textsOf(reference);
    reference.send({ id, jsonrpc, method: 'subscription', params: { path: 'replay' } });
    await reference.frame((f) => f.id === id && f.result?.type === 'stopped', 'the stock adapter to finish');
    expect(ours).toEqual(textsFor(referenceTexts, id));
  });
});

test('frames of each length encoding (16-bit up to 64 KiB, 64-bit beyond) with multi-byte text arrive whole and in order, written as one batch', async () => {
  await using srv = await startServer();
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'reader', investigations: ['inv-1'] }) });
  const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
  await sub.started;
  const sizes = [10, 60_000, 70_000, 300_000, 10];
  const published = await Promise.all(
    sizes.map((size, i) =>
      srv.server.notifyInvestigationUpdate({
        investigationId: 'inv-1',
        updateType: 'agent_finding',
        data: { agent: 'sizer', finding: `event ${i}`, details: { blob: 'é'.repeat(size) } },
      }),
    ),
  );
  const items = await sub.take(sizes.length);
  expect(items.map((item) => item.id)).toEqual(published.map((event) => event.id));
  for (const [i, item] of items.entries()) {
    expect(item.data).toMatchObject({
      type: 'investigation_update',
      data: { finding: `event ${i}`, details: { blob: 'é'.repeat(sizes[i]!) } },
    });
  }
});

describe('keepalive text frames', () => {
  test('a text PING is answered with a text PONG, a client PONG gets no answer, and the connection goes on', async () => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    const texts = textsOf(raw);

    raw.send('PING');
    await raw.frame((f) => f.method === 'PONG', 'PONG');
    expect(texts).toEqual(['PONG']);

    // A PONG from the client answers a PING: not a call, not an error.
    raw.send('PONG');
    raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(1)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 1);
    expect((await raw.waitForEvents(1, 1))[0]!.id).toBe(id);
    expect(texts.filter((t) => t === 'PONG')).toHaveLength(1);
    expect(raw.frames.filter((f) => f.error)).toEqual([]);
    expect(raw.isOpen).toBe(true);
  });

  test('a text PING before authentication is not answered (it still costs a token); once authenticated, PINGs are', async () => {
    await using srv = await startServer();
    await using raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    const texts = textsOf(raw);
    for (let i = 0; i < 5; i++) raw.send('PING');
    raw.sendConnectionParams({ token: await srv.token({ sub: 'analyst', investigations: ['inv-1'] }) });
    raw.send('PING');
    await raw.frame((f) => f.method === 'PONG', 'PONG');
    raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(1)).result?.type).toBe('started');
    expect(texts.filter((t) => t === 'PONG')).toHaveLength(1);
    expect(raw.frames.filter((f) => f.error)).toEqual([]);
  });

  test('a protocol-level ping from the client is answered with a pong, after it paid like any frame', async () => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    const pongs: string[] = [];
    raw.ws.on('pong', (data) => pongs.push(String(data)));
    raw.ws.ping('are you there');
    await waitFor(
      () => pongs.length,
      (n) => n > 0,
      'a pong',
    );
    expect(pongs).toEqual(['are you there']);
  });

  test('the tRPC client with keepAlive on gets its PONGs and never reconnects', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    let pongs = 0;
    let opens = 0;
    let closes = 0;
    /** ws's WebSocket, counting the PONGs the client reads. */
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.on('message', (data, isBinary) => {
          if (!isBinary && data.toString() === 'PONG') pongs++;
        });
      }
    }
    const ws = createWSClient({
      url: srv.address.wsUrl,
      WebSocket: CountingWebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams: { token },
      // Pings whenever the connection is quiet for 20 ms; a missing PONG would close it (generous bound: a loaded machine).
      keepAlive: { enabled: true, intervalMs: 20, pongTimeoutMs: 10_000 },
      onOpen: () => opens++,
      onClose: () => closes++,
    });
    // (srv.wsClient takes no keepAlive option, hence a client of our own, closed like the fixture's.)
    await using _ws = { [Symbol.asyncDispose]: () => ws.close() };
    const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws, transformer: superjson })] });
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await sub.started;

    await waitFor(
      () => pongs,
      (n) => n >= 10,
      '10 PONGs',
    );
    const { id } = await progress(srv, 'inv-1', 2);
    expect((await sub.take(1))[0]!.id).toBe(id);
    expect({ opens, closes }).toEqual({ opens: 1, closes: 0 });
  });
});

describe('subscription.stop', () => {
  test('the client gets stopped, the slot is freed, and later events are not delivered to it', async () => {
    // One subscription per connection: the next one starting proves the slot came back.
    await using srv = await startServer({ limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: 1 } });
    await using raw = await rawSubscriber(srv);
    raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(1)).result?.type).toBe('started');
    expect(srv.server.stats().subscriptions).toBe(1);

    raw.send({ id: 1, method: 'subscription.stop' });
    const stopped = await raw.frame((f) => f.id === 1 && f.result?.type === 'stopped', 'stopped');
    expect(stopped).toEqual({ id: 1, result: { type: 'stopped' } });
    await waitFor(
      () => srv.server.stats(),
      (s) => s.subscriptions === 0 && s.bus.subscribers === 0,
      'the stopped subscription to be freed',
    );

    // A probe on the same topic and connection: once it has the event, the stopped one would have had it too.
    raw.request(2, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(2)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 5);
    expect((await raw.waitForEvents(2, 1))[0]!.id).toBe(id);
    expect(raw.events(1)).toEqual([]);
    expect(raw.frames.filter((f) => f.id === 1).map((f) => f.result?.type)).toEqual(['started', 'stopped']);
  });

  test.each([
    // In one frame the stop is read before the subscription can start: it never does.
    { name: 'in the same array frame', send: (raw: RawWs, sub: object, stop: object) => raw.send([sub, stop]), neverStarts: true },
    {
      // Two frames may be read in two turns, so `started` may come first.
      name: 'as the next frame, in the same tick',
      send: (raw: RawWs, sub: object, stop: object) => {
        raw.send(sub);
        raw.send(stop);
      },
      neverStarts: false,
    },
  ])('a stop sent right after the request ($name): stopped, the slot freed, nothing delivered', async ({ send, neverStarts }) => {
    await using srv = await startServer({ limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: 1 } });
    await using raw = await rawSubscriber(srv);

    send(raw, { id: 1, method: 'subscription', params: SUBSCRIBE_INV_1 }, { id: 1, method: 'subscription.stop' });
    await raw.frame((f) => f.id === 1 && f.result?.type === 'stopped', 'stopped');
    await waitFor(
      () => srv.server.stats(),
      (s) => s.subscriptions === 0 && s.bus.subscribers === 0,
      'the slot to be freed',
    );

    raw.request(2, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(2)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 5);
    expect((await raw.waitForEvents(2, 1))[0]!.id).toBe(id);

    const first = raw.frames.filter((f) => f.id === 1);
    expect(first.some((f) => f.error !== undefined || f.result?.type === 'data')).toBe(false);
    expect(first[first.length - 1]).toEqual({ id: 1, result: { type: 'stopped' } });
    if (neverStarts) expect(first.map((f) => f.result?.type)).toEqual(['stopped']);
  });
});

test('a duplicate subscription id while the first is live: BAD_REQUEST for the second, the first goes on', async () => {
  await using srv = await startServer();
  await using raw = await rawSubscriber(srv);
  raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
  expect((await raw.response(1)).result?.type).toBe('started');

  raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-2' });
  const error = await raw.errorResponse(1);
  expect(error.data?.code).toBe('BAD_REQUEST');
  expect(error.message).toBe('Duplicate id 1');
  expect(srv.server.stats()).toMatchObject({ subscriptions: 1, bus: { topics: 1, subscribers: 1 } });

  const { id } = await progress(srv, 'inv-1', 9);
  expect((await raw.waitForEvents(1, 1))[0]!.id).toBe(id);
  expect(raw.frames.filter((f) => f.id === 1 && f.result?.type === 'stopped')).toEqual([]);
});

describe('array frames', () => {
  test('two calls in one frame, a query and a subscription: both answered', async () => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    raw.send([
      { id: 1, method: 'query', params: { path: 'system.health' } },
      { id: 2, method: 'subscription', params: SUBSCRIBE_INV_1 },
    ]);
    const health = await raw.response(1);
    expect(health.result?.type).toBe('data');
    expect(health.result?.data).toMatchObject({ json: { status: 'healthy', connections: 1, engine: { kind: 'memory' } } });
    expect((await raw.response(2)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 3);
    expect((await raw.waitForEvents(2, 1))[0]!.id).toBe(id);
  });

  test(`${inputBounds.callsPerBatch} calls in one frame are served; one more and every call gets BAD_REQUEST and none runs`, async () => {
    // Each call of an array frame pays a token (limits.test.ts): a budget that takes these batches at once.
    await using srv = await startServer({ limits: { RATE_LIMIT_PER_SECOND: 1_000, RATE_LIMIT_BURST: 1_000 } });
    await using raw = await rawSubscriber(srv);
    const health = (id: number) => ({ id, method: 'query', params: { path: 'system.health' } });
    const max = inputBounds.callsPerBatch;

    raw.send(Array.from({ length: max }, (_, i) => health(i + 1)));
    await raw.until(() => (raw.frames.length >= max ? true : undefined), `${max} answers`);
    expect(raw.frames.every((f) => f.result?.type === 'data')).toBe(true);
    expect(new Set(raw.frames.map((f) => f.id)).size).toBe(max);

    // max + 1 entries: queries, a subscription, and a stop (which is never answered, as in tRPC).
    const ids = Array.from({ length: max }, (_, i) => 1_001 + i);
    const subscriptionId = ids[ids.length - 1]!;
    raw.send([
      ...ids.slice(0, -1).map(health),
      { id: subscriptionId, method: 'subscription', params: SUBSCRIBE_INV_1 },
      { id: subscriptionId, method: 'subscription.stop' },
    ]);
    await raw.until(() => (ids.every((id) => raw.frames.some((f) => f.id === id)) ? true : undefined), 'an answer to each call');
    for (const id of ids) {
      const answers = raw.frames.filter((f) => f.id === id);
      expect(answers).toHaveLength(1);
      expect(errorOf(answers[0]!)).toMatchObject({ message: 'Batch call exceeds maximum size', data: { code: 'BAD_REQUEST' } });
    }

    // The connection goes on; a subscription started afterwards gets the event while the refused one never started.
    raw.request(5_000, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(5_000)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 4);
    expect((await raw.waitForEvents(5_000, 1))[0]!.id).toBe(id);
    expect(raw.frames.filter((f) => f.id === subscriptionId)).toHaveLength(1);
    expect(srv.server.stats()).toMatchObject({ subscriptions: 1, bus: { subscribers: 1 } });
  });
});

describe('frames that are not calls: PARSE_ERROR, and the connection stays usable', () => {
  // (A frame that is not JSON at all is in limits.test.ts, "malformed input keeps the connection up".)
  test.each([
    {
      name: 'a binary frame (even of valid JSON)',
      send: (raw: RawWs) =>
        raw.ws.send(Buffer.from(JSON.stringify({ id: 1, method: 'query', params: { path: 'system.health' } })), { binary: true }),
      jsonrpc: undefined,
    },
    {
      name: 'a message without id',
      send: (raw: RawWs) => raw.send({ method: 'query', params: { path: 'system.health' } }),
      jsonrpc: undefined,
    },
    {
      name: 'a message with id null',
      send: (raw: RawWs) => raw.send({ id: null, jsonrpc: '2.0', method: 'query', params: { path: 'system.health' } }),
      jsonrpc: '2.0',
    },
    { name: 'a JSON value that is not an object', send: (raw: RawWs) => raw.send('42'), jsonrpc: undefined },
    {
      name: 'an array frame with one invalid call (none of it runs)',
      send: (raw: RawWs) =>
        raw.send([
          { id: 1, method: 'subscription', params: SUBSCRIBE_INV_1 },
          { id: 2, method: 'teleport', params: { path: 'system.health' } },
        ]),
      jsonrpc: undefined,
    },
  ])('$name', async ({ send, jsonrpc }) => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    send(raw);
    const frame = await raw.frame((f) => f.error !== undefined, 'an error');
    expect(frame.id).toBeNull();
    expect((frame as { jsonrpc?: string }).jsonrpc).toBe(jsonrpc);
    expect(errorOf(frame)?.data?.code).toBe('PARSE_ERROR');

    raw.request(3, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.response(3)).result?.type).toBe('started');
    const { id } = await progress(srv, 'inv-1', 6);
    expect((await raw.waitForEvents(3, 1))[0]!.id).toBe(id);
    // Nothing else was answered: one error, then the subscription's frames.
    expect(raw.frames.filter((f) => f.id !== 3)).toEqual([frame]);
    expect(srv.server.stats().subscriptions).toBe(1);
  });
});

describe('calls to a procedure that is not there (of that type): NOT_FOUND, nothing left behind', () => {
  test.each([
    { name: 'an unknown path', method: 'subscription', path: 'investigation.onEverything', input: { investigationId: 'inv-1' } },
    { name: 'a subscription called as a query', method: 'query', path: 'investigation.onUpdate', input: { investigationId: 'inv-1' } },
    { name: 'a query called as a subscription', method: 'subscription', path: 'system.health', input: undefined },
  ])('$name', async ({ method, path, input }) => {
    await using srv = await startServer();
    await using raw = await rawSubscriber(srv);
    raw.send({ id: 1, method, params: { path, input } });
    const error = await raw.errorResponse(1);
    expect(error.data?.code).toBe('NOT_FOUND');
    expect(error.message).toBe(`No "${method}"-procedure on path "${path}"`);
    expect(srv.server.stats()).toMatchObject({ subscriptions: 0, bus: { topics: 0, subscribers: 0 } });

    // The id is free again (no duplicate), and the connection serves a subscription under it.
    raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    expect((await raw.frame((f) => f.id === 1 && f.result?.type === 'started', 'started')).error).toBeUndefined();
    const { id } = await progress(srv, 'inv-1', 8);
    expect((await raw.waitForEvents(1, 1))[0]!.id).toBe(id);
    expect(raw.frames.filter((f) => f.error)).toHaveLength(1);
    expect(srv.server.stats().subscriptions).toBe(1);
  });
});

describe('a client that leaves frees everything', () => {
  test('the tRPC client with subscriptions to three topics closes: no connection, subscription or topic is left', async () => {
    await using srv = await startServer();
    const { client, ws } = srv.wsClient({ token: await srv.token({ sub: 'ana', investigations: ['inv-1'], analyses: ['an-1'] }) });
    const subs = [
      collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o)),
      collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, o)),
      collect<NotificationItem>((o) => client.notification.onNotification.subscribe(undefined, o)),
    ];
    await Promise.all(subs.map((s) => s.started));
    expect(srv.server.stats()).toMatchObject({ connections: 1, users: 1, subscriptions: 3, bus: { topics: 3, subscribers: 3 } });

    ws.close();
    await waitForEmptyServer(srv);
  });

  test('a raw socket with subscriptions to three topics drops without a close frame: the same', async () => {
    await using srv = await startServer();
    const raw = await rawSubscriber(srv, 'ana');
    raw.request(1, 'subscription', SUBSCRIBE_INV_1.path, SUBSCRIBE_INV_1.input);
    raw.request(2, 'subscription', 'analysis.onUpdate', { analysisId: 'an-1' });
    raw.request(3, 'subscription', 'notification.onNotification');
    for (const id of [1, 2, 3]) expect((await raw.response(id)).result?.type).toBe('started');
    expect(srv.server.stats()).toMatchObject({ connections: 1, subscriptions: 3, bus: { topics: 3 } });

    raw.ws.terminate();
    await raw.closed;
    await waitForEmptyServer(srv);
  });
});

describe('a resume larger than SLOW_CONSUMER_BYTES', () => {
  const SLOW_CONSUMER_BYTES = 64 * 1024;
  const HISTORY = 300;
  /**
   * 300 events of ~24 KB, ~7 MB in all: over a hundred times the bound, and
   * more than the loopback socket buffers take at once (~4 MB here), so the
   * replay has to wait for the client to read.
   */
  const blob = 'x'.repeat(24 * 1024);

  const limits = { SLOW_CONSUMER_BYTES, HISTORY_SIZE: 1_000, BATCH_WINDOW_MS: 10 };

  /** Publishes the history to resume from; resolves to its ids. */
  async function publishHistory(srv: TestServer): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < HISTORY; i++) {
      const { id } = await srv.server.notifyInvestigationUpdate({
        investigationId: 'inv-1',
        updateType: 'agent_finding',
        data: { agent: 'load', finding: `chunk ${i}`, details: { blob } },
      });
      ids.push(id);
    }
    return ids;
  }

  test('is paced for a client that reads: every event once, in order, then live ones, and no 4013', async () => {
    await using srv = await startServer({ limits });
    const ids = await publishHistory(srv);
    let opens = 0;
    const closes: (number | undefined)[] = [];
    const { client } = srv.wsClient({
      token: await srv.token({ sub: 'reader', investigations: ['inv-1'] }),
      onOpen: () => opens++,
      onClose: (cause) => closes.push(cause?.code),
    });
    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: ids[0] }, o),
    );
    await sub.started;
    await sub.take(HISTORY - 1);
    const { id: live } = await progress(srv, 'inv-1', 1);

    const items = await sub.take(HISTORY);
    expect(items.map((i) => i.id)).toEqual([...ids.slice(1), live]);
    expect(
      items
        .slice(0, -1)
        .map((i) => i.data.type === 'investigation_update' && i.data.data.updateType === 'agent_finding' && i.data.data.finding),
    ).toEqual(ids.slice(1).map((_, k) => `chunk ${k + 1}`));
    expect(sub.items).toHaveLength(HISTORY);
    expect({ opens, closes }).toEqual({ opens: 1, closes: [] });
    expect(srv.server.stats()).toMatchObject({ connections: 1, subscriptions: 1 });
  });

  test('a client that stops reading during its replay is still closed with 4013 once live events pile up; what it read is gap-free', async () => {
    await using srv = await startServer({ limits });
    const ids = await publishHistory(srv);
    await using stuck = await rawSubscriber(srv, 'stuck');
    stuck.send({ id: 1, method: 'subscription', params: { ...SUBSCRIBE_INV_1, lastEventId: ids[0] } });
    await stuck.response(1);
    stuck.socket.pause();

    // Live events keep coming while it does not read (bounded: its queue holds at most 2 x HISTORY_SIZE).
    const live: string[] = [];
    for (let i = 0; i < 10_000 && srv.server.stats().subscriptions > 0; i++) {
      live.push((await progress(srv, 'inv-1', i)).id);
      if (i % 25 === 24) await nextTurn();
    }
    await waitFor(
      () => srv.server.stats(),
      (s) => s.subscriptions === 0 && s.bus.subscribers === 0,
      'the stuck subscription to be freed',
    );

    stuck.socket.resume();
    expect((await stuck.closed).code).toBe(CloseCode.SLOW_CONSUMER);
    // What it read before the close is the start of the sequence, so resuming from its last id loses nothing.
    const read = stuck.deliveries(1).map((d) => d.trackedId);
    expect(read).toEqual([...ids.slice(1), ...live].slice(0, read.length));
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === 0,
      'the stuck connection to be gone',
    );
  });
});
