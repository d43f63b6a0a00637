import { connect, type Socket } from 'node:net';
import { createTRPCClient, httpSubscriptionLink, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import type { AppRouter } from '../server/index';
import { compareEventIds } from '../shared/eventId';
import { sseConnectionType } from '../shared/paths';
import { collect, type InvestigationItem } from './support/collect';
import { TestEventSource } from './support/eventSource';
import { ManualClock } from './support/manualClock';
import { progress, publishProgress } from './support/progress';
import { publishUntilDropped } from './support/publishUntilDropped';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { scrape, seriesValue } from './support/scrape';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

/**
 * Subscriptions over Server-Sent Events, GET /api/v1/sse/<procedure>: real
 * servers, tRPC's own httpSubscriptionLink in Node.js with a standard
 * EventSource (support/eventSource.ts, on fetch).
 */

const sseUrl = (srv: TestServer) => `${srv.address.httpUrl}/api/v1/sse`;

/** A typed client whose subscriptions go over SSE, the token in a header or in connectionParams (the query). */
function sseClient(srv: TestServer, token: string | (() => string), via: 'header' | 'connectionParams' = 'connectionParams') {
  const sources: TestEventSource[] = [];
  const client: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({
    links: [
      httpSubscriptionLink({
        url: sseUrl(srv),
        transformer: superjson,
        EventSource: class extends TestEventSource {
          constructor(url: string, init?: ConstructorParameters<typeof TestEventSource>[1]) {
            super(url, init);
            sources.push(this);
          }
        },
        ...(via === 'header'
          ? { eventSourceOptions: () => ({ headers: { authorization: `Bearer ${typeof token === 'string' ? token : token()}` } }) }
          : { connectionParams: () => ({ token: typeof token === 'string' ? token : token() }) }),
      }),
    ],
  });
  return { client, sources };
}

const userToken = (srv: TestServer, sub = 'analyst', seconds?: number) =>
  srv.token({ sub, investigations: ['*'], analyses: ['*'] }, seconds);

/** A raw SSE request (what a browser's EventSource sends), its body left unread until asked. */
async function openRaw(srv: TestServer, path: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(`${sseUrl(srv)}/${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  return { res, close: () => abort.abort() };
}

const inputQuery = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`;

function streams(srv: TestServer) {
  return srv.server.stats().connectionCounter.connections;
}

describe('SSE: authentication', () => {
  test('a token in the Authorization header or in connectionParams opens the stream; events arrive in order', async () => {
    await using srv = await startServer();
    const token = await userToken(srv);
    for (const via of ['header', 'connectionParams'] as const) {
      const { client } = sseClient(srv, token, via);
      const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: `inv-${via}` }, o));
      await sub.started;
      const ids = await publishProgress(srv, `inv-${via}`, 0, 20);
      const items = await sub.take(20);
      expect(items.map((i) => i.id)).toEqual(ids);
      expect(
        items.map((i) => i.data.type === 'investigation_update' && i.data.data.updateType === 'progress' && i.data.data.progress),
      ).toEqual([...Array(20).keys()]);
      // superjson: the timestamp is a Date again.
      expect(items[0]!.data.timestamp).toBeInstanceOf(Date);
      sub.unsubscribe();
    }
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'every stream released',
    );
  });

  test('a refused token is a 401 with the tRPC error and its reason, before any stream', async () => {
    await using srv = await startServer();
    const path = `investigation.onUpdate?${inputQuery({ investigationId: 'inv-1' })}`;
    for (const [headers, reason] of [
      [{}, 'token_missing'],
      [{ authorization: 'Bearer not-a-jwt' }, 'token_invalid'],
    ] as const) {
      const { res } = await openRaw(srv, path, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = (await res.json()) as { error: { json: { data: { code: string; reason: string; httpStatus: number } } } };
      expect(body.error.json.data).toMatchObject({ code: 'UNAUTHORIZED', reason, httpStatus: 401 });
    }
    // In the query, as httpSubscriptionLink sends it.
    const bad = encodeURIComponent(JSON.stringify({ token: 'nope' }));
    const { res } = await openRaw(srv, `${path}&connectionParams=${bad}`);
    expect(res.status).toBe(401);
    // tRPC's link over a standard EventSource: the connection fails for good, the subscription errors.
    const { client, sources } = sseClient(srv, 'nope');
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await sub.failed();
    expect(sources[0]!.readyState).toBe(TestEventSource.CLOSED);
    expect(streams(srv)).toBe(0);
  });

  test('only subscriptions, only GET: anything else is a small tRPC error; plain HTTP still refuses subscriptions', async () => {
    await using srv = await startServer();
    const auth = { authorization: `Bearer ${await userToken(srv)}` };
    const unknown = await openRaw(srv, 'nope.nothing', auth);
    expect(unknown.res.status).toBe(404);
    expect(((await unknown.res.json()) as { error: { json: { data: { code: string } } } }).error.json.data.code).toBe('NOT_FOUND');
    const query = await openRaw(srv, 'system.health', auth);
    expect([404, 405]).toContain(query.res.status);
    const post = await fetch(`${sseUrl(srv)}/investigation.onUpdate`, { method: 'POST', headers: auth, body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    // The normal tRPC endpoint over plain HTTP: not a streaming transport.
    const plain = await fetch(`${srv.address.httpUrl}/api/v1/trpc/investigation.onUpdate?${inputQuery({ investigationId: 'inv-1' })}`, {
      headers: auth,
    });
    const text = await plain.text();
    expect(text).toContain('websocket_required');
    expect(streams(srv)).toBe(0);
  });
});

describe('SSE: resume', () => {
  test('Last-Event-ID resumes with no gap and no duplicate (tRPC maps it to lastEventId)', async () => {
    await using srv = await startServer();
    const { client, sources } = sseClient(srv, await userToken(srv));
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-r' }, o));
    await sub.started;
    const first = await publishProgress(srv, 'inv-r', 0, 5);
    await sub.take(5);
    // The network drops: the EventSource reconnects by itself, with the last id it saw.
    const source = sources[0]!;
    source.drop();
    const missed = await publishProgress(srv, 'inv-r', 5, 5);
    await waitFor(
      () => source.connects,
      (n) => n === 2,
      'the reconnect',
    );
    expect(source.sentLastEventIds).toEqual([undefined, first[4]]);
    const live = await publishProgress(srv, 'inv-r', 10, 5);
    const items = await sub.take(15);
    expect(items.map((i) => i.id)).toEqual([...first, ...missed, ...live]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sub.items).toHaveLength(15);
  });

  test('a raw request with Last-Event-ID gets exactly what came after it, in id order', async () => {
    await using srv = await startServer();
    const ids = await publishProgress(srv, 'inv-raw', 0, 10);
    const { res, close } = await openRaw(srv, `investigation.onUpdate?${inputQuery({ investigationId: 'inv-raw' })}`, {
      authorization: `Bearer ${await userToken(srv)}`,
      'last-event-id': ids[3]!,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const seen = () => [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]!);
    while (seen().length < 6) text += decoder.decode((await reader.read()).value);
    expect(seen()).toEqual(ids.slice(4));
    expect([...seen()].sort(compareEventIds)).toEqual(seen());
    close();
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'the stream released',
    );
  });
});

async function connectionLimitCountsStreams(srv: TestServer) {
  const token = await userToken(srv, 'limited');
  const path = `investigation.onUpdate?${inputQuery({ investigationId: 'inv-l' })}`;
  const auth = { authorization: `Bearer ${token}` };
  // One WebSocket and one stream: the user's two connections.
  const ws = srv.wsClient({ token }).client;
  const wsSub = collect<InvestigationItem>((o) => ws.investigation.onUpdate.subscribe({ investigationId: 'inv-l' }, o));
  await wsSub.started;
  const a = await openRaw(srv, path, auth);
  expect(a.res.status).toBe(200);
  const refused = await openRaw(srv, path, auth);
  expect(refused.res.status).toBe(429);
  const body = (await refused.res.json()) as { error: { json: { data: { reason: string } } } };
  expect(body.error.json.data.reason).toBe('too_many_connections');
  wsSub.unsubscribe();
  a.close();
  // Open and close streams over and over: each is released.
  for (let round = 0; round < 2; round++) {
    await waitFor(
      () => streams(srv),
      (n) => n <= 1,
      'room for a stream',
    );
    const opened = [await openRaw(srv, path, auth)];
    expect(opened[0]!.res.status).toBe(200);
    for (const s of opened) s.close();
  }
  const { client } = sseClient(srv, token);
  for (let i = 0; i < 3; i++) {
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-l' }, o));
    await sub.started;
    sub.unsubscribe();
  }
  srv.server.stats();
  await waitFor(
    () => srv.server.stats().connectionCounter,
    (c) => c.connections <= 1,
    'the streams released',
  );
}

describe('SSE: limits', () => {
  test('each stream counts against MAX_CONNECTIONS_PER_USER with the WebSockets, and is released when it closes', async () => {
    await using srv = await startServer({ limits: { MAX_CONNECTIONS_PER_USER: 2 } });
    await connectionLimitCountsStreams(srv);
    // Only the WebSocket client may still be open; once it is gone, nothing is counted.
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 0,
      'no subscription left',
    );
  });

  test('opening a stream costs one HTTP call of a user’s budget', async () => {
    await using srv = await startServer({ limits: { RATE_LIMIT_PER_SECOND: 1, RATE_LIMIT_BURST: 2 } });
    const auth = { authorization: `Bearer ${await userToken(srv, 'eager')}` };
    const path = `investigation.onUpdate?${inputQuery({ investigationId: 'inv-b' })}`;
    const statuses: number[] = [];
    const opened: { close(): void }[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await openRaw(srv, path, auth);
      statuses.push(s.res.status);
      opened.push(s);
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
    expect(statuses).toContain(429);
    for (const s of opened) s.close();
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'every stream released',
    );
  });

  test('a token that expires ends the stream with token_expired; the stream is released', async () => {
    const clock = new ManualClock();
    await using srv = await startServer({ clock });
    const token = await userToken(srv, 'short', 60);
    const { client } = sseClient(srv, token);
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-x' }, o));
    await sub.started;
    await publishProgress(srv, 'inv-x', 0, 2);
    await sub.take(2);
    expect(streams(srv)).toBe(1);
    clock.advance(61_000);
    const error = await waitFor(
      () => sub.error as { data?: { code?: string; reason?: string } } | undefined,
      (e) => e !== undefined,
      'the expiry',
    );
    expect(error?.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token_expired' });
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'the stream released',
    );
    expect(clock.timers).toBe(0);
    const samples = await scrape(srv.address.httpUrl);
    expect(seriesValue(samples, 'realtime_connections_closed_total{code="4001"}')).toBe(1);
  });
});

/** A raw HTTP/1.1 SSE request on its own socket: what reaches the client, read by read. */
async function rawStream(srv: TestServer, path: string, token: string) {
  const socket: Socket = connect(srv.address.port, '127.0.0.1');
  const reads: string[] = [];
  socket.on('data', (data: Buffer) => reads.push(data.toString('latin1')));
  socket.write(`GET /api/v1/sse/${path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
  await waitFor(
    () => reads.join(''),
    (text) => text.includes('event: connected'),
    'the stream to open',
  );
  return { socket, reads, text: () => reads.join('') };
}

describe('SSE: delivery', () => {
  test('the frames of a batch leave together, in one write', async () => {
    await using srv = await startServer({ limits: { BATCH_WINDOW_MS: 50 } });
    const stream = await rawStream(srv, `investigation.onUpdate?${inputQuery({ investigationId: 'inv-batch' })}`, await userToken(srv));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = stream.reads.length;
    // 30 events within one batch window: one batch, many frames.
    const ids = (await Promise.all([...Array(30).keys()].map((i) => progress(srv, 'inv-batch', i)))).map((r) => r.id);
    await waitFor(
      () => stream.text(),
      (text) => ids.every((id) => text.includes(`id: ${id}`)),
      'the batch',
    );
    // On the loopback one write is one read: ~150 separate writes (5 per event, as tRPC enqueues them) would not be.
    expect(stream.reads.length - before).toBeLessThanOrEqual(2);
    stream.socket.destroy();
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'the stream released',
    );
  });

  test('a client that stops reading is ended past SLOW_CONSUMER_BYTES (after what it was sent), its subscription freed at once', async () => {
    await using srv = await startServer({ limits: { SLOW_CONSUMER_BYTES: 1024 * 1024, BATCH_WINDOW_MS: 10 } });
    const { client, sources } = sseClient(srv, await userToken(srv, 'healthy'));
    const healthy = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await healthy.started;
    const stuck = await rawStream(srv, `investigation.onUpdate?${inputQuery({ investigationId: 'inv-1' })}`, await userToken(srv, 'stuck'));
    stuck.socket.pause();
    // Paced by the healthy reader (in this same process, it must get its turns): never more than 8 events (512 KB) behind.
    const ids = await publishUntilDropped(srv, 'inv-1', async (i, published) => {
      if (i % 8 === 7) await healthy.take(published.length - 8);
    });
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 1,
      'the stuck subscription freed',
    );
    // Reading again, the client finds the end of the stream (no `return` event: an EventSource reconnects with Last-Event-ID).
    stuck.socket.resume();
    await waitFor(
      () => stuck.text(),
      (text) => text.includes(': slow_consumer') && text.endsWith('0\r\n\r\n'),
      'the end of the stream',
    );
    expect(stuck.text()).not.toContain('event: return');
    await healthy.take(ids.length);
    expect(healthy.items.map((i) => i.id)).toEqual(ids);
    // The healthy reader kept its one stream all along.
    expect(sources[0]!.connects).toBe(1);
    await waitFor(
      () => streams(srv),
      (n) => n === 1,
      'the stuck stream released',
    );
    const samples = await scrape(srv.address.httpUrl);
    expect(seriesValue(samples, 'realtime_slow_consumers_total')).toBe(1);
    expect(seriesValue(samples, 'realtime_connections_closed_total{code="4013"}')).toBe(1);
    stuck.socket.destroy();
  });
});

describe('SSE: drain', () => {
  test('a drain ends every stream without `return` (an EventSource reconnects, elsewhere, with Last-Event-ID) and refuses new ones', async () => {
    await using srv = await startServer({ drainSeconds: 1 });
    const token = await userToken(srv);
    const path = `investigation.onUpdate?${inputQuery({ investigationId: 'inv-d' })}`;
    const stream = await rawStream(srv, path, token);
    const ids = await publishProgress(srv, 'inv-d', 0, 3);
    await waitFor(
      () => stream.text(),
      (text) => text.includes(`id: ${ids[2]}`),
      'the events',
    );
    const draining = srv.server.drain();
    await waitFor(
      () => stream.text(),
      (text) => text.includes(': draining') && text.endsWith('0\r\n\r\n'),
      'the end of the stream',
    );
    expect(stream.text()).not.toContain('event: return');
    await draining;
    stream.socket.destroy();
  });
});

describe('SSE: metrics', () => {
  test('streams are counted as websocket_connections_total{type="sse"}, their events in websocket_messages_sent_total', async () => {
    await using srv = await startServer();
    const before = await scrape(srv.address.httpUrl);
    expect(seriesValue(before, `websocket_connections_total{type="${sseConnectionType}"}`)).toBe(0);
    const { client } = sseClient(srv, await userToken(srv));
    const subs = ['inv-m1', 'inv-m2'].map((id) =>
      collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: id }, o)),
    );
    for (const sub of subs) await sub.started;
    const open = await scrape(srv.address.httpUrl);
    expect(seriesValue(open, 'websocket_connections_total{type="sse"}')).toBe(2);
    expect(seriesValue(open, 'realtime_connections_opened_total{type="sse"}')).toBe(2);
    expect(seriesValue(open, 'realtime_subscriptions')).toBe(2);
    const sentBefore = seriesValue(open, 'websocket_messages_sent_total{type="investigation_update"}');
    await publishProgress(srv, 'inv-m1', 0, 3);
    await publishProgress(srv, 'inv-m2', 0, 4);
    await subs[0]!.take(3);
    await subs[1]!.take(4);
    const after = await scrape(srv.address.httpUrl);
    expect(seriesValue(after, 'websocket_messages_sent_total{type="investigation_update"}') - sentBefore).toBe(7);
    for (const sub of subs) sub.unsubscribe();
    await waitFor(
      async () => seriesValue(await scrape(srv.address.httpUrl), 'websocket_connections_total{type="sse"}'),
      (n) => n === 0,
      'the gauge back at 0',
    );
    expect(srv.server.stats().subscriptions).toBe(0);
  });
});

describeWithRedis('SSE with Redis', () => {
  test('streams count against the per-user limit in Redis and are released', async () => {
    await using srv = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: uniquePrefix(), limits: { MAX_CONNECTIONS_PER_USER: 2 } });
    await connectionLimitCountsStreams(srv);
  });
});

describe('SSE: an operator’s actions reach streams as they reach WebSockets', () => {
  const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

  async function watching(srv: TestServer, token: string, investigationId: string) {
    const { client } = sseClient(srv, token);
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
    await sub.started;
    return sub;
  }

  const errorOf = (sub: { error: unknown }) =>
    waitFor(
      () => sub.error as { data?: { code?: string; reason?: string } } | undefined,
      (e) => e !== undefined,
      'the stream to end with an error',
    );

  test('disconnectUser, revokeToken and revokeAccess end the user’s streams with their reason; the bystander’s goes on', async () => {
    await using srv = await startServer();
    const operator = srv.httpClient(await srv.token({ sub: 'ops', roles: ['admin'] }));
    const bystander = await watching(srv, await userToken(srv, 'bystander'), 'inv-a');

    const disconnected = await watching(srv, await userToken(srv, 'alice'), 'inv-a');
    await operator.admin.disconnectUser.mutate({ userId: 'alice' });
    expect((await errorOf(disconnected))?.data).toMatchObject({ code: 'FORBIDDEN', reason: 'disconnected' });

    const stolen = await userToken(srv, 'bob');
    const revokedToken = await watching(srv, stolen, 'inv-a');
    await operator.admin.revokeToken.mutate({ jti: jtiOf(stolen) });
    expect((await errorOf(revokedToken))?.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token_revoked' });
    // The token is refused from now on, before any stream.
    const { res } = await openRaw(srv, `investigation.onUpdate?${inputQuery({ investigationId: 'inv-a' })}`, {
      authorization: `Bearer ${stolen}`,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { json: { data: { reason: string } } } }).error.json.data.reason).toBe('token_revoked');

    const carolToken = await userToken(srv, 'carol');
    const otherTopic = await watching(srv, carolToken, 'inv-b');
    const revokedAccess = await watching(srv, carolToken, 'inv-a');
    await operator.admin.revokeAccess.mutate({ userId: 'carol', investigationId: 'inv-a' });
    expect((await errorOf(revokedAccess))?.data).toMatchObject({ code: 'FORBIDDEN', reason: 'access_revoked' });
    // A new stream to it is refused with the same token (tRPC's SSE opens every stream, then sends the
    // error, so it ends without an event); her other stream and the bystander's go on.
    const again = sseClient(srv, carolToken);
    const refused = collect<InvestigationItem>((o) => again.client.investigation.onUpdate.subscribe({ investigationId: 'inv-a' }, o));
    expect((await errorOf(refused))?.data).toMatchObject({ code: 'FORBIDDEN', reason: 'access_revoked' });
    expect(refused.items).toEqual([]);
    const [a] = await publishProgress(srv, 'inv-a', 1, 1);
    const [b] = await publishProgress(srv, 'inv-b', 2, 1);
    expect((await bystander.take(1))[0]!.id).toBe(a);
    expect((await otherTopic.take(1))[0]!.id).toBe(b);
    for (const ended of [disconnected, revokedToken, revokedAccess]) expect(ended.items.map((i) => i.id)).not.toContain(a);
    bystander.unsubscribe();
    otherTopic.unsubscribe();
    await waitFor(
      () => streams(srv),
      (n) => n === 0,
      'every stream released',
    );
  });
});
