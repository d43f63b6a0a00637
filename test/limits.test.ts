import { describe, expect, test } from 'vitest';
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
import { RawWs } from './support/rawWs';
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

describe('incoming messages per connection', () => {
  test.each([
    { name: '5/s, burst 10', limits: { RATE_LIMIT_PER_SECOND: 5, RATE_LIMIT_BURST: 10 }, burst: 10 },
    { name: 'the defaults, 20/s, burst 40', limits: {}, burst: 40 },
  ])('$name: a flood gets TOO_MANY_REQUESTS for the excess, the connection stays and recovers', async ({ limits, burst }) => {
    await using srv = await startServer({ limits });
    const token = await srv.token({ sub: 'u1' });
    let opens = 0;
    let closes = 0;
    const { client } = srv.wsClient({ token, onOpen: () => opens++, onClose: () => closes++ });
    const typing = () => client.chat.typing.mutate({ sessionId: 'session-1', isTyping: true });

    const results = await Promise.allSettled(Array.from({ length: 100 }, typing));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(ok.length).toBeGreaterThanOrEqual(burst);
    expect(refused.length).toBeGreaterThan(0);
    for (const err of refused) expectRefused(refusalOf(err), 'TOO_MANY_REQUESTS', 'rate_limited');

    // Another connection has its own budget.
    const { client: second } = srv.wsClient({ token });
    expect(await second.chat.typing.mutate({ sessionId: 'session-1', isTyping: false })).toEqual({ ok: true });

    // Once the bucket refills, the same connection is served again.
    await waitFor(
      () =>
        typing().then(
          () => true,
          () => false,
        ),
      (served) => served,
      'a request to be served again',
    );
    expect({ opens, closes }).toEqual({ opens: 1, closes: 0 });
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
