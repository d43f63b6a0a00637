import type { TRPCClient } from '@trpc/client';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import { keyId, MAX_JWT_KEYS } from '../server/auth/tokenKeys';
import { type AppRouter, createRealtimeServer, issueToken } from '../server/index';
import { CloseCode } from '../shared/closeCodes';
import type { ErrorReason } from '../shared/errors';
import { type AnalysisItem, type ChatItem, collect, type InvestigationItem, type NotificationItem } from './support/collect';
import { expectRefused, refusalOf, rejectionOf } from './support/errors';
import { ManualClock } from './support/manualClock';
import { errorOf, RawWs } from './support/rawWs';
import { startServer, TEST_SECRET, type TestServer } from './support/server';
import { waitFor } from './support/wait';

type Client = TRPCClient<AppRouter>;

async function waitForEmptyMaps(srv: TestServer) {
  await waitFor(
    () => srv.server.stats(),
    (s) => s.connections === 0 && s.users === 0 && s.subscriptions === 0 && s.bus.subscribers === 0,
    'no connection, user or subscription left',
  );
}

const progress = (investigationId: string, value: number) =>
  ({ investigationId, updateType: 'progress', data: { progress: value } }) as const;

/** Opens a raw connection presenting `token` the way a client would: in connectionParams or in the query. */
async function openRaw(srv: TestServer, token: string | null, via: 'connectionParams' | 'query') {
  if (via === 'query' && token === null) {
    // No token anywhere: the first frame decides the dialect; a tRPC request is refused at once.
    const raw = await RawWs.open(srv.address.wsUrl);
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    return raw;
  }
  if (via === 'query') return RawWs.open(`${srv.address.wsUrl}?token=${encodeURIComponent(token!)}`);
  const raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
  raw.sendConnectionParams(token === null ? {} : { token });
  return raw;
}

describe('a valid token is accepted', () => {
  test('in connectionParams (tRPC client)', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'] }) });
    const sub = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
    await sub.started;
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 10));
    const [event] = await sub.take(1);
    expect(event!.data.data).toMatchObject({ investigationId: 'inv-1', progress: 10 });
    expect(srv.server.stats()).toMatchObject({ connections: 1, users: 1, subscriptions: 1 });
  });

  test('in the ?token= query (tRPC client with via: query)', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'] }), via: 'query' });
    const sub = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
    await sub.started;
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 20));
    const [event] = await sub.take(1);
    expect(event!.data.data).toMatchObject({ investigationId: 'inv-1', progress: 20 });
  });

  test('in the ?token= query (raw WebSocket)', async () => {
    await using srv = await startServer();
    await using raw = await openRaw(srv, await srv.token({ sub: 'u1', investigations: ['inv-1'] }), 'query');
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await raw.response(1)).result?.type).toBe('started');
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 30));
    const [event] = await raw.waitForEvents(1, 1);
    expect(event!.data).toMatchObject({ investigationId: 'inv-1', progress: 30 });
  });

  test('connectionParams win over the query when both carry a token', async () => {
    await using srv = await startServer();
    const paramsToken = await srv.token({ sub: 'params-user', investigations: ['inv-params'] });
    const queryToken = await srv.token({ sub: 'query-user', investigations: ['inv-query'] });

    await using raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1&token=${queryToken}`);
    raw.sendConnectionParams({ token: paramsToken });
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-params' });
    raw.request(2, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-query' });
    expect((await raw.response(1)).result?.type).toBe('started');
    expect((await raw.errorResponse(2)).data).toMatchObject({ code: 'FORBIDDEN', reason: 'not_granted' });

    // A broken query token does not matter either when connectionParams carry a good one.
    await using second = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1&token=garbage`);
    second.sendConnectionParams({ token: paramsToken });
    second.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-params' });
    expect((await second.response(1)).result?.type).toBe('started');

    await srv.server.notifyInvestigationUpdate(progress('inv-params', 50));
    await raw.waitForEvents(1, 1);
    await second.waitForEvents(1, 1);
    expect(second.isOpen).toBe(true);
  });
});

describe('a bad token closes the connection with 4001 and leaves nothing behind', () => {
  const otherSecret = 'another-secret-that-is-also-32-characters-long';
  const badTokens: { name: string; make: (srv: TestServer) => Promise<string | null>; reason: ErrorReason }[] = [
    { name: 'missing token', make: async () => null, reason: 'token_missing' },
    { name: 'invalid signature', make: () => issueToken(otherSecret, { sub: 'u1', investigations: ['*'] }), reason: 'token_invalid' },
    { name: 'garbage string', make: async () => 'this-is-not-a-jwt', reason: 'token_invalid' },
    { name: 'expired token', make: (srv) => srv.token({ sub: 'u1' }, -60), reason: 'token_expired' },
    {
      name: 'token without exp',
      make: () =>
        new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u1')
          .setIssuedAt()
          .sign(new TextEncoder().encode(TEST_SECRET)),
      reason: 'token_invalid',
    },
  ];

  for (const via of ['connectionParams', 'query'] as const) {
    test.each(badTokens)(`$name, via ${via}`, async ({ make, reason }) => {
      await using srv = await startServer();
      await using raw = await openRaw(srv, await make(srv), via);
      const closed = await raw.closed;
      expect(closed.code).toBe(CloseCode.UNAUTHORIZED);
      expect(errorOfFirstFrame(raw)).toMatchObject({ code: 'UNAUTHORIZED', reason });
      await waitForEmptyMaps(srv);
    });
  }

  // A plain client that gets the first frame wrong has presented no token: same close code,
  // so it knows to fix its token rather than retry blindly.
  test.each([
    { name: 'not JSON', frame: '{"method":"connectionParams",' },
    {
      name: 'a request instead of connectionParams',
      frame: JSON.stringify({
        id: 1,
        method: 'subscription',
        params: { path: 'investigation.onUpdate', input: { investigationId: 'inv-1' } },
      }),
    },
    { name: 'a token that is not a string', frame: JSON.stringify({ method: 'connectionParams', data: { token: 42 } }) },
  ])('a malformed connectionParams frame ($name) closes with 4001', async ({ frame }) => {
    await using srv = await startServer();
    await using raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    raw.send(frame);
    expect((await raw.closed).code).toBe(CloseCode.UNAUTHORIZED);
    await waitForEmptyMaps(srv);
  });

  test('a connection that never sends its connectionParams is closed after AUTH_TIMEOUT_MS', async () => {
    await using srv = await startServer({ limits: { AUTH_TIMEOUT_MS: 200 } });
    // Authenticated before the silent one opens, so its own timer (if it were armed) would fire first.
    await using good = await openRaw(srv, await srv.token({ sub: 'u1', investigations: ['inv-1'] }), 'connectionParams');
    good.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    await good.response(1);

    await using silent = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    expect(await silent.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'auth_timeout' });
    await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === 1 && s.users === 1,
      'only the authenticated connection left',
    );

    expect(good.isOpen).toBe(true);
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 5));
    await good.waitForEvents(1, 1);
    await good.close();
    await waitForEmptyMaps(srv);
  });

  test('a token that expires while connected closes the connection with 4001, judged by the server clock', async () => {
    const clock = new ManualClock();
    await using srv = await startServer({ clock });
    const shortLived = await srv.token({ sub: 'u1', investigations: ['inv-1'] }, 60);
    await using raw = await openRaw(srv, shortLived, 'connectionParams');
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await raw.response(1)).result?.type).toBe('started');
    expect(srv.server.stats()).toMatchObject({ connections: 1, users: 1, subscriptions: 1 });

    // A second before expiry the connection still serves.
    clock.advance(59_000);
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 5));
    await raw.waitForEvents(1, 1);
    expect(raw.isOpen).toBe(true);

    clock.advance(2_000);
    expect(await raw.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token_expired' });
    await waitForEmptyMaps(srv);
    expect(srv.server.stats().bus.topics).toBe(0);
    expect(clock.timers).toBe(0);

    // The same token, presented again now, is refused as expired.
    await using again = await openRaw(srv, shortLived, 'connectionParams');
    expect(await again.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token_expired' });
  });
});

function errorOfFirstFrame(raw: RawWs) {
  const frame = raw.frames.find((f) => f.error !== undefined);
  return frame && errorOf(frame)?.data;
}

describe('authorization of subscriptions', () => {
  test('an investigation or analysis the token does not grant is FORBIDDEN (not_granted)', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'], analyses: ['an-1'] }) });

    const inv = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-2' }, h));
    expectRefused(refusalOf(await inv.failed()), 'FORBIDDEN', 'not_granted');
    const an = collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: 'an-2' }, h));
    expectRefused(refusalOf(await an.failed()), 'FORBIDDEN', 'not_granted');
    // Grants are per kind: an investigation id does not open the analysis of the same name.
    const crossed = collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: 'inv-1' }, h));
    expectRefused(refusalOf(await crossed.failed()), 'FORBIDDEN', 'not_granted');

    // The granted ones work on the same connection.
    const grantedInv = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
    const grantedAn = collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, h));
    await Promise.all([grantedInv.started, grantedAn.started]);
    expect(srv.server.stats().subscriptions).toBe(2);
  });

  test('"*" grants every id of its kind', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['*'], analyses: ['*'] }) });
    const inv = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'any-investigation' }, h));
    const an = collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: 'any-analysis' }, h));
    await Promise.all([inv.started, an.started]);
    await srv.server.notifyInvestigationUpdate(progress('any-investigation', 1));
    await srv.server.notifyAnalysisUpdate({ analysisId: 'any-analysis', updateType: 'status', data: { status: 'running' } });
    await inv.take(1);
    await an.take(1);

    const { client: invOnly } = srv.wsClient({ token: await srv.token({ sub: 'u2', investigations: ['*'] }) });
    const refused = collect<AnalysisItem>((h) => invOnly.analysis.onUpdate.subscribe({ analysisId: 'any-analysis' }, h));
    expectRefused(refusalOf(await refused.failed()), 'FORBIDDEN', 'not_granted');
  });

  test('the admin role subscribes to anything without grants', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'root', roles: ['admin'] }) });
    const inv = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-secret' }, h));
    const an = collect<AnalysisItem>((h) => client.analysis.onUpdate.subscribe({ analysisId: 'an-secret' }, h));
    await Promise.all([inv.started, an.started]);
    await srv.server.notifyInvestigationUpdate(progress('inv-secret', 99));
    await srv.server.notifyAnalysisUpdate({ analysisId: 'an-secret', updateType: 'status', data: { status: 'completed' } });
    expect((await inv.take(1))[0]!.data.data).toMatchObject({ investigationId: 'inv-secret', progress: 99 });
    expect((await an.take(1))[0]!.data.data).toMatchObject({ analysisId: 'an-secret', status: 'completed' });
  });

  test('chat.watchInvestigation of an investigation not granted is FORBIDDEN, and its events stay out of the chat', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'] }) });
    const chat = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: 'session-1' }, h));
    await chat.started;

    expectRefused(
      await rejectionOf(() => client.chat.watchInvestigation.mutate({ sessionId: 'session-1', investigationId: 'inv-2' })),
      'FORBIDDEN',
      'not_granted',
    );
    expect(await client.chat.watchInvestigation.mutate({ sessionId: 'session-1', investigationId: 'inv-1' })).toEqual({ ok: true });

    await srv.server.notifyInvestigationUpdate(progress('inv-2', 66));
    await srv.server.notifyInvestigationUpdate(progress('inv-1', 11));
    const [first] = await chat.take(1);
    expect(first!.data.data).toMatchObject({ investigationId: 'inv-1', progress: 11 });
  });
});

describe('publishing needs the service role', () => {
  const publishCalls: Record<string, (c: Client) => Promise<unknown>> = {
    'investigation.notifyUpdate': (c) =>
      c.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'status', data: { status: 'running' } }),
    'investigation.notifyAnomaly': (c) =>
      c.investigation.notifyAnomaly.mutate({
        investigationId: 'inv-1',
        anomaly: { severity: 'high', description: 'overpriced', contractId: 'ct-1', confidence: 0.9 },
      }),
    'analysis.notifyUpdate': (c) =>
      c.analysis.notifyUpdate.mutate({ analysisId: 'an-1', updateType: 'status', data: { status: 'running' } }),
    'notification.send': (c) => c.notification.send.mutate({ userIds: ['u1'], title: 'hello', body: 'world', level: 'info' }),
  };

  for (const transport of ['http', 'ws'] as const) {
    test(`over ${transport}: user and admin tokens get FORBIDDEN (service_role_required); nothing reaches subscribers`, async () => {
      await using srv = await startServer();
      const clientFor = async (claims: Parameters<TestServer['token']>[0]) => {
        const token = await srv.token(claims);
        return transport === 'http' ? srv.httpClient(token) : srv.wsClient({ token }).client;
      };
      const { client: watcher } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'], analyses: ['an-1'] }) });
      const inv = collect<InvestigationItem>((h) => watcher.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
      const an = collect<AnalysisItem>((h) => watcher.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, h));
      const notes = collect<NotificationItem>((h) => watcher.notification.onNotification.subscribe(undefined, h));
      await Promise.all([inv.started, an.started, notes.started]);

      for (const claims of [
        { sub: 'u1', investigations: ['*'], analyses: ['*'] },
        { sub: 'root', roles: ['admin'] },
      ]) {
        const client = await clientFor(claims);
        for (const [name, call] of Object.entries(publishCalls)) {
          const { code, reason } = await rejectionOf(() => call(client));
          expect({ name, code, reason }).toEqual({ name, code: 'FORBIDDEN', reason: 'service_role_required' });
        }
      }

      // The same calls with the service role go through, and theirs are the first events the
      // watcher sees: a refused call published nothing (it would have arrived first).
      const service = await clientFor({ sub: 'svc', roles: ['service'] });
      const published = [];
      for (const call of Object.values(publishCalls)) published.push(await call(service));
      const [update, anomaly, analysis, notification] = published as [{ id: string }, { id: string }, { id: string }, { ids: string[] }];
      expect((await inv.take(2)).slice(0, 2).map((e) => e.id)).toEqual([update.id, anomaly.id]);
      expect((await an.take(1))[0]!.id).toBe(analysis.id);
      expect((await notes.take(1))[0]!.id).toBe(notification.ids[0]);
    });
  }
});

describe('HTTP authentication', () => {
  test('without a token: UNAUTHORIZED (token_missing)', async () => {
    await using srv = await startServer();
    const anonymous = srv.httpClient();
    expectRefused(
      await rejectionOf(() => anonymous.investigation.notifyUpdate.mutate(progress('inv-1', 1))),
      'UNAUTHORIZED',
      'token_missing',
    );
    expectRefused(
      await rejectionOf(() => anonymous.chat.typing.mutate({ sessionId: 's-1', isTyping: true })),
      'UNAUTHORIZED',
      'token_missing',
    );
  });

  test('with a bad token: UNAUTHORIZED', async () => {
    await using srv = await startServer();
    const forged = await issueToken('another-secret-that-is-also-32-characters-long', { sub: 'svc', roles: ['service'] });
    const cases: [string, ErrorReason][] = [
      ['garbage', 'token_invalid'],
      [forged, 'token_invalid'],
      [await srv.token({ sub: 'svc', roles: ['service'] }, -60), 'token_expired'],
    ];
    for (const [token, reason] of cases) {
      const refusal = await rejectionOf(() => srv.httpClient(token).investigation.notifyUpdate.mutate(progress('inv-1', 1)));
      expectRefused(refusal, 'UNAUTHORIZED', reason);
    }
  });

  test('system.health works without a token', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'u1', investigations: ['inv-1'] }) });
    await collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h)).started;
    const health = await srv.httpClient().system.health.query();
    expect(health).toMatchObject({ status: 'healthy', connections: 1, subscriptions: 1 });
  });
});

/** The end of year 9999: a token that never expires in practice. */
const YEAR_9999 = 253_402_300_799;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const watcher = { sub: 'u1', investigations: ['inv-1'] };

/** A token signed with jose by hand, for the claims and headers `issueToken` never makes. */
function signByHand(secret: string, opts: { iat?: number; exp: number; kid?: string }): Promise<string> {
  const jwt = new SignJWT({ investigations: ['inv-1'] })
    .setProtectedHeader(opts.kid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid: opts.kid })
    .setSubject('u1')
    .setExpirationTime(opts.exp);
  if (opts.iat !== undefined) jwt.setIssuedAt(opts.iat);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Presents `token` over WebSocket and subscribes: resolves once the subscription has started. */
async function expectAcceptedOverWs(srv: TestServer, token: string) {
  await using raw = await openRaw(srv, token, 'connectionParams');
  raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
  expect((await raw.response(1)).result?.type).toBe('started');
}

/** Presents `token` over WebSocket: the close and the error frame sent before it. */
async function refusalOverWs(srv: TestServer, token: string) {
  await using raw = await openRaw(srv, token, 'connectionParams');
  const closed = await raw.closed;
  const frame = raw.frames.find((f) => f.error !== undefined);
  const error = frame && errorOf(frame);
  await waitForEmptyMaps(srv);
  return { closed, code: error?.data?.code, reason: error?.data?.reason, message: error?.message };
}

/** Presents `token` as a Bearer over HTTP (system.health checks a token when one is sent). */
async function overHttp(srv: TestServer, token: string) {
  const res = await fetch(`${srv.address.httpUrl}/api/v1/trpc/system.health`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { error?: { json?: { message?: string; data?: { code?: string; reason?: string } } } };
  return {
    status: res.status,
    code: body.error?.json?.data?.code,
    reason: body.error?.json?.data?.reason,
    message: body.error?.json?.message,
  };
}

describe('token lifetime: MAX_TOKEN_LIFETIME_SECONDS (24 h by default)', () => {
  test('a token valid until the year 9999 is refused: 4001 over WebSocket, UNAUTHORIZED over HTTP, saying why', async () => {
    await using srv = await startServer();
    const forever = await issueToken(TEST_SECRET, watcher, { expiresAt: YEAR_9999 });
    const ws = await refusalOverWs(srv, forever);
    expect(ws.closed).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token_invalid' });
    expect(ws).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token_invalid' });
    expect(ws.message).toContain('MAX_TOKEN_LIFETIME_SECONDS (86400 s)');
    const http = await overHttp(srv, forever);
    expect(http).toMatchObject({ status: 401, code: 'UNAUTHORIZED', reason: 'token_invalid' });
    expect(http.message).toContain('MAX_TOKEN_LIFETIME_SECONDS (86400 s)');
  });

  test('tokens of 23 h and of exactly 24 h are accepted', async () => {
    await using srv = await startServer();
    for (const hours of [23, 24]) {
      const token = await srv.token(watcher, hours * 3600);
      await expectAcceptedOverWs(srv, token);
      expect((await overHttp(srv, token)).status, `${hours} h`).toBe(200);
    }
  });

  test('without iat the lifetime counts from now: exp 25 h away is refused, 23 h away accepted', async () => {
    await using srv = await startServer();
    const tooLong = await signByHand(TEST_SECRET, { exp: nowSeconds() + 25 * 3600 });
    expect(await refusalOverWs(srv, tooLong)).toMatchObject({ closed: { code: CloseCode.UNAUTHORIZED }, reason: 'token_invalid' });
    expect(await overHttp(srv, tooLong)).toMatchObject({ status: 401, reason: 'token_invalid' });

    await expectAcceptedOverWs(srv, await signByHand(TEST_SECRET, { exp: nowSeconds() + 23 * 3600 }));
  });

  test('an iat in the future is refused beyond a minute of clock skew', async () => {
    await using srv = await startServer();
    const now = nowSeconds();
    const future = await signByHand(TEST_SECRET, { iat: now + 600, exp: now + 3600 });
    const ws = await refusalOverWs(srv, future);
    expect(ws).toMatchObject({ closed: { code: CloseCode.UNAUTHORIZED }, reason: 'token_invalid' });
    expect(ws.message).toContain('issued in the future');
    expect(await overHttp(srv, future)).toMatchObject({ status: 401, reason: 'token_invalid' });

    // An issuer whose clock is a little ahead of ours.
    await expectAcceptedOverWs(srv, await signByHand(TEST_SECRET, { iat: now + 30, exp: now + 3600 }));
  });

  test('the bound is configurable, and judged by the server clock', async () => {
    const clock = new ManualClock();
    await using srv = await startServer({ clock, limits: { MAX_TOKEN_LIFETIME_SECONDS: 3600 } });
    expect((await refusalOverWs(srv, await srv.token(watcher, 7200))).reason).toBe('token_invalid');
    await expectAcceptedOverWs(srv, await srv.token(watcher, 3600));

    // Without iat, "from now" is the server's now: two hours ahead of the wall clock,
    // a token expiring 50 minutes after it is within the bound (by the wall clock it is not).
    clock.advance(2 * 3600_000);
    const exp = Math.floor(clock.now() / 1000) + 50 * 60;
    expect((await refusalOverWs(srv, await signByHand(TEST_SECRET, { exp: exp + 3600 }))).reason).toBe('token_invalid');
    await expectAcceptedOverWs(srv, await signByHand(TEST_SECRET, { exp }));
  });
});

describe('key rotation: JWT_SECRET lists keys, the first signs, every one verifies', () => {
  const OLD = 'the-old-key-that-is-being-retired-0000';
  const NEW = 'the-new-key-that-signs-from-now-on-1111';
  const STRANGER = 'a-key-this-server-has-never-heard-of-22';

  test('issueToken signs with the first key and names it in kid', async () => {
    const token = await issueToken(`${NEW},${OLD}`, watcher);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', kid: keyId(NEW) });
    expect(keyId(NEW)).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(keyId(NEW)).not.toBe(keyId(OLD));
  });

  test('a token of the second key verifies, with its kid or without one', async () => {
    await using srv = await startServer({ jwtSecret: `${NEW},${OLD}` });
    const now = nowSeconds();
    for (const token of [
      await issueToken(OLD, watcher),
      await signByHand(OLD, { iat: now, exp: now + 600 }),
      await issueToken(NEW, watcher),
      await signByHand(NEW, { iat: now, exp: now + 600 }),
    ]) {
      await expectAcceptedOverWs(srv, token);
      expect((await overHttp(srv, token)).status).toBe(200);
    }
  });

  test('a kid that names no key of the server is refused, as is a kid that names the wrong one', async () => {
    await using srv = await startServer({ jwtSecret: `${NEW},${OLD}` });
    const now = nowSeconds();
    const stranger = await issueToken(STRANGER, watcher);
    const ws = await refusalOverWs(srv, stranger);
    expect(ws).toMatchObject({ closed: { code: CloseCode.UNAUTHORIZED, reason: 'token_invalid' }, code: 'UNAUTHORIZED' });
    expect(ws.message).toContain('a key this server does not know');
    expect(await overHttp(srv, stranger)).toMatchObject({ status: 401, reason: 'token_invalid' });

    // Signed with a key the server has, but claiming another: only the named key is tried.
    const mislabelled = await signByHand(OLD, { iat: now, exp: now + 600, kid: keyId(NEW) });
    expect(await refusalOverWs(srv, mislabelled)).toMatchObject({ reason: 'token_invalid' });
    // Without kid, a key the server does not have fails against each of its keys.
    expect(await refusalOverWs(srv, await signByHand(STRANGER, { iat: now, exp: now + 600 }))).toMatchObject({ reason: 'token_invalid' });
  });

  test("removing the old key from the list refuses its tokens; the new key's keep working", async () => {
    const now = nowSeconds();
    const oldTokens = [await issueToken(OLD, watcher), await signByHand(OLD, { iat: now, exp: now + 600 })];
    const newToken = await issueToken(`${NEW},${OLD}`, watcher);
    {
      await using during = await startServer({ jwtSecret: `${NEW},${OLD}` });
      for (const token of [...oldTokens, newToken]) await expectAcceptedOverWs(during, token);
    }
    await using after = await startServer({ jwtSecret: NEW });
    for (const token of oldTokens) {
      expect(await refusalOverWs(after, token)).toMatchObject({ closed: { code: CloseCode.UNAUTHORIZED }, reason: 'token_invalid' });
      expect(await overHttp(after, token)).toMatchObject({ status: 401, reason: 'token_invalid' });
    }
    await expectAcceptedOverWs(after, newToken);
  });

  test(`more than ${MAX_JWT_KEYS} keys stop the start (ConfigError naming JWT_SECRET)`, () => {
    const keys = Array.from({ length: MAX_JWT_KEYS + 1 }, (_, i) => `rotation-key-number-${i}-padded-to-32-chars`);
    expect(() => createRealtimeServer({ jwtSecret: keys.join(','), port: 0, logLevel: 'silent' })).toThrow(
      new RegExp(`^JWT_SECRET: at most ${MAX_JWT_KEYS} keys`),
    );
  });
});
