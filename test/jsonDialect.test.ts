import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '../shared/closeCodes';
import { metricValue } from './support/hostile';
import { publishUntilDropped } from './support/publishUntilDropped';
import { RawWs } from './support/rawWs';
import { startServer, type TestServer, waitForEmptyServer } from './support/server';
import { waitFor } from './support/wait';

/** A server frame of the seed's dialect. */
interface DialectFrame {
  type: string;
  id?: string;
  timestamp?: string;
  data?: Record<string, unknown> & { code?: string; reason?: string | null; message?: string };
}

function framesOf(raw: RawWs): DialectFrame[] {
  return raw.frames as unknown as DialectFrame[];
}

function frameOf(raw: RawWs, predicate: (frame: DialectFrame) => boolean, what: string): Promise<DialectFrame> {
  return raw.until(() => framesOf(raw).find(predicate), what);
}

function eventsOf(raw: RawWs): DialectFrame[] {
  return framesOf(raw).filter((f) => f.id !== undefined);
}

function waitForEvents(raw: RawWs, n: number): Promise<DialectFrame[]> {
  return raw.until(() => {
    const events = eventsOf(raw);
    return events.length >= n ? events : undefined;
  }, `${n} events`);
}

function subscribers(srv: TestServer, n: number) {
  return waitFor(
    () => srv.server.stats().subscriptions,
    (count) => count === n,
    `${n} subscriptions`,
  );
}

async function service(srv: TestServer) {
  return srv.httpClient(await srv.token({ sub: 'svc', roles: ['service'] }));
}

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('the seed’s examples work verbatim', () => {
  test('the JavaScript example over ws: investigation_update and anomaly_detected published over HTTP reach its handlers; its ping gets a pong', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'u1', investigations: ['inv-123'] });
    const updates: unknown[] = [];
    const alerts: unknown[] = [];
    const sockets: WebSocket[] = [];
    const intervals: (() => void)[] = [];
    // Node's ws WebSocket has the browser's onopen / onmessage / send.
    class RecordedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    runInNewContext(readFileSync(new URL('./fixtures/seedExample.js', import.meta.url), 'utf8'), {
      WebSocket: RecordedWebSocket,
      WS_BASE: srv.address.wsUrl.replace(/\/api\/v1\/ws$/, ''),
      JWT_TOKEN: token,
      JSON,
      updateInvestigationUI: (data: unknown) => updates.push(data),
      showAnomalyAlert: (data: unknown) => alerts.push(data),
      // The example's 30 s keepalive runs when the test says so.
      setInterval: (callback: () => void) => intervals.push(callback),
    });
    const ws = sockets[0]!;
    try {
      const raw: string[] = [];
      ws.on('message', (data) => raw.push(String(data)));
      await subscribers(srv, 1);

      const publisher = await service(srv);
      const sourceTime = new Date('2026-01-02T03:04:05.678Z');
      const { id: updateId } = await publisher.investigation.notifyUpdate.mutate({
        investigationId: 'inv-123',
        updateType: 'progress',
        data: { progress: 40, stage: 'fetching contracts', timestamp: sourceTime },
      });
      const { id: anomalyId } = await publisher.investigation.notifyAnomaly.mutate({
        investigationId: 'inv-123',
        anomaly: { severity: 'high', description: 'price 3x the median', contractId: 'ct-9', confidence: 0.9 },
      });
      await waitFor(
        () => alerts.length,
        (n) => n === 1,
        'the anomaly alert',
      );
      expect(updates).toEqual([
        {
          investigationId: 'inv-123',
          updateType: 'progress',
          progress: 40,
          stage: 'fetching contracts',
          timestamp: sourceTime.toISOString(),
        },
      ]);
      expect(alerts).toEqual([
        {
          investigationId: 'inv-123',
          severity: 'high',
          description: 'price 3x the median',
          contractId: 'ct-9',
          confidence: 0.9,
        },
      ]);
      const events = raw.map((text) => JSON.parse(text) as DialectFrame).filter((f) => f.id !== undefined);
      expect(events.map((e) => [e.type, e.id])).toEqual([
        ['investigation_update', updateId],
        ['anomaly_detected', anomalyId],
      ]);
      for (const event of events) {
        expect(Object.keys(event).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
        expect(event.timestamp).toMatch(ISO_8601);
      }

      intervals[0]!();
      await waitFor(
        () => raw.some((text) => text === '{"type":"pong"}'),
        (got) => got,
        'a pong',
      );
    } finally {
      ws.close();
    }
    await waitForEmptyServer(srv);
  });
});

describe('one bus, two dialects', () => {
  test('a tRPC client and a JSON-dialect client on one investigation receive the same ids in the same order', async () => {
    await using srv = await startServer({ limits: { BATCH_WINDOW_MS: 20 } });
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    await using rpc = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    rpc.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    await rpc.response(1);
    await using json = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    json.send({ type: 'subscribe', data: { investigation_id: 'inv-1' } });
    expect(await frameOf(json, (f) => f.type === 'subscribed', 'subscribed')).toEqual({
      type: 'subscribed',
      data: { investigation_id: 'inv-1' },
    });

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const published =
        i % 5 === 4
          ? await srv.server.notifyAnomalyDetected({
              investigationId: 'inv-1',
              anomaly: { severity: 'critical', description: `a${i}`, contractId: 'c', confidence: 1 },
            })
          : await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: i } });
      ids.push(published.id);
    }
    const viaRpc = await rpc.waitForEvents(1, ids.length);
    const viaJson = await waitForEvents(json, ids.length);
    expect(viaRpc.map((e) => e.id)).toEqual(ids);
    expect(viaJson.map((e) => e.id)).toEqual(ids);
    expect(viaJson.map((e) => e.type)).toEqual(viaRpc.map((e) => e.type));
    expect(viaJson.map((e) => e.timestamp)).toEqual(viaRpc.map((e) => e.timestamp.toISOString()));
  });

  test('a JSON client that resumes with last_event_id gets exactly the events it missed, then the live ones', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    const publish = async (progress: number) =>
      (await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress } })).id;
    const first = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1?token=${token}`);
    await frameOf(first, (f) => f.type === 'subscribed', 'subscribed');
    const seen = [await publish(1), await publish(2)];
    expect((await waitForEvents(first, 2)).map((e) => e.id)).toEqual(seen);
    await first.close();

    const missed = [await publish(3), await publish(4), await publish(5)];
    for (const key of ['last_event_id', 'lastEventId']) {
      await using again = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
      again.send({ type: 'subscribe', data: { investigation_id: 'inv-1', [key]: seen[1] } });
      expect((await waitForEvents(again, 3)).map((e) => e.id)).toEqual(missed);
      await again.close();
    }

    await using live = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    live.send({ type: 'subscribe', data: { investigationId: 'inv-1', lastEventId: missed[2] } });
    await frameOf(live, (f) => f.type === 'subscribed', 'subscribed');
    const next = await publish(6);
    expect((await waitForEvents(live, 1)).map((e) => e.id)).toEqual([next]);

    // An id older than anything retained: resync_required, as in tRPC.
    await using stale = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    stale.send({ type: 'subscribe', data: { investigation_id: 'inv-1', last_event_id: '1-0' } });
    const [resync] = await waitForEvents(stale, 1);
    expect(resync!.type).toBe('resync_required');
  });

  test('notifications: `notifications: true` subscribes the caller to its own', async () => {
    await using srv = await startServer();
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'u7' })}`);
    raw.send({ type: 'subscribe', data: { notifications: true } });
    await frameOf(raw, (f) => f.type === 'subscribed', 'subscribed');
    await (await service(srv)).notification.send.mutate({ userIds: ['u7'], title: 'Hi', body: 'there', level: 'info' });
    const [event] = await waitForEvents(raw, 1);
    expect(event).toMatchObject({ type: 'notification', data: { title: 'Hi', body: 'there', level: 'info' } });
    raw.send({ type: 'unsubscribe', data: { notifications: true } });
    await frameOf(raw, (f) => f.type === 'unsubscribed', 'unsubscribed');
    await subscribers(srv, 0);
  });
});

test('metrics count the dialect’s connections by type, its subscriptions and its deliveries, as tRPC’s', async () => {
  await using srv = await startServer();
  const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
  await using raw = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1?token=${token}`);
  await frameOf(raw, (f) => f.type === 'subscribed', 'subscribed');
  const delivered = await metricValue(srv.address.httpUrl, 'websocket_messages_sent_total');
  await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 1 } });
  await waitForEvents(raw, 1);
  const text = await (await fetch(`${srv.address.httpUrl}/metrics`)).text();
  expect(text).toMatch(/^websocket_connections_total\{type="investigation"\} 1$/m);
  expect(await metricValue(srv.address.httpUrl, 'realtime_subscriptions')).toBe(1);
  expect(await metricValue(srv.address.httpUrl, 'websocket_messages_sent_total')).toBe(delivered + 1);
});

describe('authentication', () => {
  test('a first frame {"type":"auth"} authenticates a per-resource path, and /api/v1/ws with or without ?connectionParams=1', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    await using resource = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1`);
    resource.send({ type: 'auth', data: { token } });
    await frameOf(resource, (f) => f.type === 'subscribed', 'subscribed');

    await using general = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    general.send({ type: 'auth', data: { token } });
    general.send({ type: 'ping' });
    await frameOf(general, (f) => f.type === 'pong', 'pong');

    // The contract: the token travels as `?token=` or in a first `auth` frame: the plain URL works too.
    await using plain = await RawWs.open(srv.address.wsUrl);
    plain.send({ type: 'auth', data: { token } });
    plain.send({ type: 'subscribe', data: { investigation_id: 'inv-1' } });
    await frameOf(plain, (f) => f.type === 'subscribed', 'subscribed on the plain URL');
  });

  test.each([
    { name: 'a bad ?token= on /api/v1/ws', path: '?token=not-a-jwt', send: null, reason: 'token_invalid' },
    { name: 'a bad ?token= on a per-resource path', path: '/investigations/inv-1?token=not-a-jwt', send: null, reason: 'token_invalid' },
    { name: 'a bad auth frame', path: '/analysis/an-1', send: { type: 'auth', data: { token: 'x' } }, reason: 'token_invalid' },
    { name: 'a first frame that is not auth', path: '/analysis/an-1', send: { type: 'ping' }, reason: 'token_missing' },
    { name: 'no token in time', path: '/chat/s-1', send: null, reason: 'auth_timeout' },
    { name: 'no token and no frame on /api/v1/ws', path: '', send: null, reason: 'auth_timeout' },
    { name: 'no token, then a dialect frame other than auth on /api/v1/ws', path: '', send: { type: 'ping' }, reason: 'token_missing' },
  ])('$name: 4001 ($reason), nothing left behind', async ({ path, send, reason }) => {
    await using srv = await startServer({ limits: { AUTH_TIMEOUT_MS: 300 } });
    await using raw = await RawWs.open(`${srv.address.wsUrl}${path}`);
    if (send) raw.send(send);
    expect(await raw.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason });
    await waitForEmptyServer(srv);
  });

  test('the per-user connection limit counts both dialects: the extra connection is closed with 4008', async () => {
    await using srv = await startServer({ limits: { MAX_CONNECTIONS_PER_USER: 2 } });
    const token = await srv.token({ sub: 'u1', investigations: ['*'] });
    await using rpc = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    await using json = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1?token=${token}`);
    await frameOf(json, (f) => f.type === 'subscribed', 'subscribed');
    await using extra = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-2?token=${token}`);
    expect((await extra.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    expect(rpc.isOpen && json.isOpen).toBe(true);
  });
});

describe('per-resource paths', () => {
  test.each([
    { path: '/investigations/inv-1', claims: { investigations: ['inv-1'] }, echo: { investigation_id: 'inv-1' } },
    { path: '/analysis/an-1', claims: { analyses: ['an-1'] }, echo: { analysis_id: 'an-1' } },
  ])('$path subscribes at connect; an ungranted one gets FORBIDDEN (not_granted) and closes with 1000', async ({ path, claims, echo }) => {
    await using srv = await startServer();
    await using granted = await RawWs.open(`${srv.address.wsUrl}${path}?token=${await srv.token({ sub: 'u1', ...claims })}`);
    expect(await frameOf(granted, (f) => f.type === 'subscribed', 'subscribed')).toEqual({ type: 'subscribed', data: echo });

    await using refused = await RawWs.open(`${srv.address.wsUrl}${path}?token=${await srv.token({ sub: 'u2' })}`);
    expect((await refused.closed).code).toBe(1000);
    expect(framesOf(refused)).toEqual([
      { type: 'error', data: { code: 'FORBIDDEN', reason: 'not_granted', message: expect.stringContaining('does not grant') } },
    ]);
  });

  test('an unknown resource kind or a path with more segments is not an endpoint (404)', async () => {
    await using srv = await startServer();
    for (const path of ['/nothing/x', '/investigations/a/b', '/investigations/']) {
      await expect(RawWs.open(`${srv.address.wsUrl}${path}`)).rejects.toThrow(/404/);
    }
  });

  test('chat: the session’s owner chats and types on /api/v1/ws/chat/{id}; another user is refused', async () => {
    await using srv = await startServer();
    const ownerToken = await srv.token({ sub: 'owner' });
    const { sessionId } = await srv.httpClient(ownerToken).chat.createSession.mutate({});
    await using owner = await RawWs.open(`${srv.address.wsUrl}/chat/${sessionId}?token=${ownerToken}`);
    await frameOf(owner, (f) => f.type === 'subscribed', 'subscribed');

    owner.send({ type: 'typing', data: { session_id: sessionId, is_typing: true } });
    expect(await frameOf(owner, (f) => f.type === 'typing', 'typing')).toMatchObject({
      data: { userId: 'owner', isTyping: true },
    });
    owner.send({ type: 'chat', data: { session_id: sessionId, content: 'what is the status?' } });
    expect(await frameOf(owner, (f) => f.type === 'chat_message', 'the message')).toMatchObject({
      data: { role: 'user', content: 'what is the status?', userId: 'owner' },
    });
    await frameOf(owner, (f) => f.type === 'chat_token' && f.data?.done === true, 'the end of the reply');

    await using other = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'other' })}`);
    other.send({ type: 'chat', data: { sessionId, content: 'hijack' } });
    other.send({ type: 'subscribe', data: { session_id: sessionId } });
    const errors = await other.until(() => {
      const found = framesOf(other).filter((f) => f.type === 'error');
      return found.length === 2 ? found : undefined;
    }, 'two errors');
    for (const error of errors) expect(error.data).toMatchObject({ code: 'FORBIDDEN', reason: 'session_owned_by_other' });
    // On /api/v1/ws a refusal leaves the connection up.
    other.send({ type: 'ping' });
    await frameOf(other, (f) => f.type === 'pong', 'pong');
  });
});

describe('limits', () => {
  test('subscriptions per connection: the one over the limit gets TOO_MANY_REQUESTS, the others go on; unsubscribe frees its slot', async () => {
    await using srv = await startServer({ limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: 2 } });
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'u1', investigations: ['*'] })}`);
    for (const id of ['a', 'b', 'c']) raw.send({ type: 'subscribe', data: { investigation_id: id } });
    const error = await frameOf(raw, (f) => f.type === 'error', 'the error');
    expect(error.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'too_many_subscriptions' });
    raw.send({ type: 'unsubscribe', data: { investigation_id: 'a' } });
    raw.send({ type: 'subscribe', data: { investigation_id: 'c' } });
    await raw.until(() => (framesOf(raw).filter((f) => f.type === 'subscribed').length === 3 ? true : undefined), 'three subscribed');
    expect(framesOf(raw).map((f) => f.type)).toEqual(['subscribed', 'subscribed', 'error', 'unsubscribed', 'subscribed']);
    await subscribers(srv, 2);
  });

  test('malformed messages get one small error each (when the connection is rested) and the connection goes on', async () => {
    // A budget that refills at once: every frame finds the connection rested.
    await using srv = await startServer({ limits: { RATE_LIMIT_PER_SECOND: 1_000_000, RATE_LIMIT_BURST: 1_000_000 } });
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'u1' })}`);
    raw.send({ type: 'ping' });
    await frameOf(raw, (f) => f.type === 'pong', 'pong');
    raw.send('{not json');
    raw.send({ type: 'dance' });
    raw.send({ type: 'subscribe', data: { investigation_id: 'x'.repeat(10_000) } });
    raw.send({ type: 'ping' });
    await raw.until(() => (framesOf(raw).filter((f) => f.type === 'pong').length === 2 ? true : undefined), 'the second pong');
    const errors = framesOf(raw).filter((f) => f.type === 'error');
    expect(errors.map((e) => [e.data?.code, e.data?.reason])).toEqual([
      ['PARSE_ERROR', 'not_json'],
      ['BAD_REQUEST', 'invalid_message'],
      ['BAD_REQUEST', 'invalid_message'],
    ]);
    for (const error of errors) expect(JSON.stringify(error).length).toBeLessThan(1024);
  });

  test('a stream of malformed messages gets one error, not one each; the connection goes on', async () => {
    await using srv = await startServer();
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'u1' })}`);
    raw.send({ type: 'dance' });
    for (let i = 0; i < 20; i++) raw.send({ type: 'dance' });
    raw.send({ type: 'ping' });
    await frameOf(raw, (f) => f.type === 'pong', 'pong');
    expect(framesOf(raw).filter((f) => f.type === 'error').length).toBeLessThanOrEqual(1);
  });

  test('a frame over MAX_MESSAGE_BYTES closes the connection with 1009', async () => {
    await using srv = await startServer({ limits: { MAX_MESSAGE_BYTES: 1024 } });
    await using raw = await RawWs.open(`${srv.address.wsUrl}/chat/s-1?token=${await srv.token({ sub: 'u1' })}`);
    await frameOf(raw, (f) => f.type === 'subscribed', 'subscribed');
    raw.send({ type: 'chat', data: { session_id: 's-1', content: 'x'.repeat(1024) } });
    expect((await raw.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    await waitForEmptyServer(srv);
  });

  test('a connection kept over its budget is closed with 1008; every frame paid, none was refused', async () => {
    await using srv = await startServer({ limits: { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10, RATE_LIMIT_CLOSE_AFTER_MS: 1_000 } });
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'u1' })}`);
    for (let i = 0; i < 200; i++) raw.send({ type: 'ping' });
    expect(await raw.closed).toEqual({ code: CloseCode.POLICY_VIOLATION, reason: 'rate_limited' });
    expect(framesOf(raw).every((f) => f.type === 'pong')).toBe(true);
    expect(framesOf(raw).length).toBeLessThan(200);
    await waitForEmptyServer(srv);
  });

  test('a JSON client that stops reading is closed with 4013; a tRPC client on the topic receives everything', async () => {
    const SLOW_CONSUMER_BYTES = 256 * 1024;
    await using srv = await startServer({ limits: { SLOW_CONSUMER_BYTES, BATCH_WINDOW_MS: 10 } });
    const token = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
    await using healthy = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    healthy.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    await healthy.response(1);
    await using stuck = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1?token=${token}`);
    await frameOf(stuck, (f) => f.type === 'subscribed', 'subscribed');
    stuck.socket.pause();

    const ids = await publishUntilDropped(srv, 'inv-1', async (i, published) => {
      // The healthy client reads in this process too: it keeps up before more is published.
      if (i % 4 === 3) await healthy.waitForEvents(1, published.length);
    });
    expect(srv.server.stats().subscriptions).toBe(1);
    stuck.socket.resume();
    expect((await stuck.closed).code).toBe(CloseCode.SLOW_CONSUMER);
    // What the stuck client did read is a prefix of the topic, in order: it resumes from its last id.
    const read = eventsOf(stuck).map((e) => e.id);
    expect(read).toEqual(ids.slice(0, read.length));
    expect((await healthy.waitForEvents(1, ids.length)).map((e) => e.id)).toEqual(ids);
  });
});
