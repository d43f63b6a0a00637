import { describe, expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import { errorMetricReasons } from '../shared/errors';
import { eventTypes } from '../shared/events';
import { connectionTypes } from '../shared/paths';
import { capturedLogger } from './support/capturedLogger';
import { errorOf, RawWs } from './support/rawWs';
import { scrape, seriesValue } from './support/scrape';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

const progress = (investigationId: string, value: number) =>
  ({ investigationId, updateType: 'progress', data: { progress: value } }) as const;

const withToken = (srv: TestServer, token: string, path = '') => `${srv.address.wsUrl}${path}?token=${encodeURIComponent(token)}`;

/** The series of one reason of `websocket_errors_total`. */
const errorsOf = (reason: string) => `websocket_errors_total{reason="${reason}"}`;

/** Every error reason's count, by reason. */
async function errorCounts(srv: TestServer): Promise<Record<string, number>> {
  const samples = await scrape(srv.address.httpUrl);
  return Object.fromEntries(errorMetricReasons.map((reason) => [reason, seriesValue(samples, errorsOf(reason))]));
}

/** What moved between two readings of the error counts (reasons that did not move are left out). */
function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).flatMap((k) => (after[k] !== before[k] ? [[k, after[k]! - before[k]!]] : [])));
}

describe('the seed’s metric names, moving with real traffic', () => {
  test('every label value exists from the start, at zero: rates and alerts work before the first event', async () => {
    await using srv = await startServer();
    const samples = await scrape(srv.address.httpUrl);
    for (const type of connectionTypes) expect(samples.get(`websocket_connections_total{type="${type}"}`)).toBe(0);
    for (const type of eventTypes) expect(samples.get(`websocket_messages_sent_total{type="${type}"}`)).toBe(0);
    for (const reason of errorMetricReasons) expect(samples.get(errorsOf(reason))).toBe(0);
    expect(samples.get('websocket_message_latency_seconds_count')).toBe(0);
    expect(samples.get('websocket_message_latency_seconds_bucket{le="0.001"}')).toBe(0);
    expect(samples.get('websocket_message_latency_seconds_bucket{le="5"}')).toBe(0);
    expect(samples.get('realtime_engine_up{engine="memory"}')).toBe(1);
    expect(samples.get('realtime_draining')).toBe(0);
    // Node's own, under their standard names.
    expect(samples.has('process_cpu_seconds_total')).toBe(true);
    expect(samples.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  test('three delivered events: websocket_messages_sent_total{type} +3 and the latency histogram +3; a replay counts as sent, not as latency', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'alice', investigations: ['inv-1'] });
    await using live = await RawWs.open(withToken(srv, token));
    live.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await live.response(1)).result?.type).toBe('started');
    const before = await scrape(srv.address.httpUrl);

    for (let i = 1; i <= 3; i++) await srv.server.notifyInvestigationUpdate(progress('inv-1', i * 10));
    await live.waitForEvents(1, 3);
    const series = 'websocket_messages_sent_total{type="investigation_update"}';
    const after = await waitFor(
      () => scrape(srv.address.httpUrl),
      (s) => seriesValue(s, series) === seriesValue(before, series) + 3,
      'three more messages sent',
    );
    expect(
      seriesValue(after, 'websocket_message_latency_seconds_count') - seriesValue(before, 'websocket_message_latency_seconds_count'),
    ).toBe(3);
    expect(seriesValue(after, 'websocket_message_latency_seconds_bucket{le="+Inf"}')).toBe(
      seriesValue(after, 'websocket_message_latency_seconds_count'),
    );
    // Buckets are cumulative.
    const buckets = [...after].filter(([k]) => k.startsWith('websocket_message_latency_seconds_bucket')).map(([, v]) => v);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(seriesValue(after, 'websocket_messages_sent_total{type="anomaly_detected"}')).toBe(0);
    expect(seriesValue(after, 'realtime_events_published_total{type="investigation_update"}')).toBe(3);
    expect(seriesValue(after, 'realtime_batch_size_events_count')).toBeGreaterThan(0);

    // A second subscriber replays the three: sent, but their publish was long before on purpose.
    await using replay = await RawWs.open(withToken(srv, token));
    replay.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1', lastEventId: '0-0' });
    await replay.waitForEvents(1, 3);
    const replayed = await waitFor(
      () => scrape(srv.address.httpUrl),
      (s) => seriesValue(s, series) === seriesValue(before, series) + 6,
      'three replayed messages sent',
    );
    expect(seriesValue(replayed, 'websocket_message_latency_seconds_count')).toBe(
      seriesValue(after, 'websocket_message_latency_seconds_count'),
    );
  });

  test('open connections by connection type, from ?connection_type= and the per-resource paths', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'alice', investigations: ['*'], analyses: ['*'] });
    const sockets = [
      await RawWs.open(withToken(srv, token)),
      await RawWs.open(`${withToken(srv, token)}&connection_type=analysis`),
      await RawWs.open(`${withToken(srv, token)}&connection_type=chat`),
      await RawWs.open(withToken(srv, token, '/investigations/inv-1')),
      await RawWs.open(withToken(srv, token, '/investigations/inv-2')),
    ];
    const open = await scrape(srv.address.httpUrl);
    expect(
      Object.fromEntries(connectionTypes.map((type) => [type, seriesValue(open, `websocket_connections_total{type="${type}"}`)])),
    ).toEqual({ general: 1, investigation: 2, analysis: 1, chat: 1 });
    expect(seriesValue(open, 'realtime_connections_opened_total{type="investigation"}')).toBe(2);
    for (const socket of sockets) await socket.close();
    await waitFor(
      () => scrape(srv.address.httpUrl),
      (s) => connectionTypes.every((type) => seriesValue(s, `websocket_connections_total{type="${type}"}`) === 0),
      'every connection gauge back to 0',
    );
  });
});

describe('websocket_errors_total{reason}: one count per refusal, by the contract’s reason', () => {
  test('a refused token over WebSocket and over HTTP: auth_failed +1 each, nothing else', async () => {
    await using srv = await startServer();
    const before = await errorCounts(srv);
    await using bad = await RawWs.open(withToken(srv, 'not-a-jwt'));
    expect((await bad.closed).code).toBe(CloseCode.UNAUTHORIZED);
    await waitFor(
      () => errorCounts(srv),
      (c) => c.auth_failed === before.auth_failed! + 1,
      'auth_failed +1',
    );
    const res = await fetch(`${srv.address.httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer forged.token.here' },
      body: JSON.stringify(progress('inv-1', 1)),
    });
    expect(res.status).toBe(401);
    expect(moved(before, await errorCounts(srv))).toEqual({ auth_failed: 2 });
  });

  test('a batch of calls on a refused connection counts one refusal, not one per call', async () => {
    await using srv = await startServer();
    const before = await errorCounts(srv);
    await using raw = await RawWs.open(`${srv.address.wsUrl}?connectionParams=1`);
    raw.sendConnectionParams({ token: 'forged' });
    raw.send([
      { id: 1, method: 'query', params: { path: 'system.health' } },
      { id: 2, method: 'subscription', params: { path: 'investigation.onUpdate', input: { investigationId: 'inv-1' } } },
    ]);
    expect((await raw.closed).code).toBe(CloseCode.UNAUTHORIZED);
    expect(moved(before, await errorCounts(srv))).toEqual({ auth_failed: 1 });
  });

  test('forbidden, not_found, bad_request, parse_error, too_many_subscriptions, message_too_big and too_many_connections, each where it happens', async () => {
    await using srv = await startServer({
      limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: 1, MAX_CONNECTIONS_PER_USER: 2, MAX_MESSAGE_BYTES: 4096 },
    });
    const token = await srv.token({ sub: 'alice', investigations: ['inv-1'] });
    const before = await errorCounts(srv);
    await using raw = await RawWs.open(withToken(srv, token));

    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-2' });
    expect(errorOf(await raw.response(1))?.data?.code).toBe('FORBIDDEN');
    raw.request(2, 'query', 'no.such.procedure');
    expect(errorOf(await raw.response(2))?.data?.code).toBe('NOT_FOUND');
    raw.request(3, 'subscription', 'investigation.onUpdate', { investigationId: 42 });
    expect(errorOf(await raw.response(3))?.data?.code).toBe('BAD_REQUEST');
    raw.request(4, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect((await raw.response(4)).result?.type).toBe('started');
    raw.request(5, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    expect(errorOf(await raw.response(5))?.data?.code).toBe('TOO_MANY_REQUESTS');
    // Junk is answered only on a rested connection (one error for a stream of it), but every frame of it counts.
    raw.send('{ not json');
    raw.send('{ not json either');
    await waitFor(
      () => errorCounts(srv),
      (c) => c.parse_error === before.parse_error! + 2,
      'parse_error +2',
    );
    expect(moved(before, await errorCounts(srv))).toEqual({
      forbidden: 1,
      not_found: 1,
      bad_request: 1,
      too_many_subscriptions: 1,
      parse_error: 2,
    });

    await using second = await RawWs.open(withToken(srv, token));
    await using third = await RawWs.open(withToken(srv, token));
    expect((await third.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    await second.close();

    await using big = await RawWs.open(withToken(srv, await srv.token({ sub: 'bob', investigations: ['inv-1'] })));
    big.send('x'.repeat(8192));
    expect((await big.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    await waitFor(
      () => errorCounts(srv),
      (c) => c.message_too_big === before.message_too_big! + 1,
      'message_too_big +1',
    );
    expect(moved(before, await errorCounts(srv))).toEqual({
      forbidden: 1,
      not_found: 1,
      bad_request: 1,
      too_many_subscriptions: 1,
      parse_error: 2,
      too_many_connections: 1,
      message_too_big: 1,
    });
  });

  test('a user over the HTTP rate limit: rate_limited, and realtime_requests_rate_limited_total', async () => {
    await using srv = await startServer({ limits: { RATE_LIMIT_BURST: 2, RATE_LIMIT_PER_SECOND: 1 } });
    const client = srv.httpClient(await srv.token({ sub: 'alice' }));
    const before = await errorCounts(srv);
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => client.system.health.query()));
    const refused = outcomes.filter((o) => o.status === 'rejected').length;
    // system.health is public: the user's budget is paid by an authenticated call instead.
    expect(refused).toBe(0);
    const calls = await Promise.allSettled([1, 2, 3, 4].map(() => client.chat.createSession.mutate({})));
    const limited = calls.filter((o) => o.status === 'rejected').length;
    expect(limited).toBeGreaterThan(0);
    const samples = await scrape(srv.address.httpUrl);
    expect(seriesValue(samples, errorsOf('rate_limited')) - before.rate_limited!).toBe(limited);
    expect(seriesValue(samples, 'realtime_requests_rate_limited_total')).toBe(limited);
  });
});

test('a connect flood refused at the upgrade: every refusal counted, logged as a line a second with the count, not a line each', async () => {
  const log = capturedLogger();
  await using srv = await startServer({ logger: log.logger, limits: { CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: 2 } });
  const token = await srv.token({ sub: 'alice' });
  const ATTEMPTS = 200;
  let refused = 0;
  for (let i = 0; i < ATTEMPTS; i++) {
    try {
      const raw = await RawWs.open(withToken(srv, token));
      await raw.close();
    } catch (error) {
      expect(String(error)).toMatch(/429/);
      refused++;
    }
  }
  expect(refused).toBe(ATTEMPTS - 2);
  const samples = await scrape(srv.address.httpUrl);
  expect(seriesValue(samples, 'realtime_upgrades_refused_total{reason="too_many_attempts"}')).toBe(refused);
  expect(seriesValue(samples, errorsOf('rate_limited'))).toBe(refused);
  const lines = log.events('upgrade_refused');
  expect(lines.length).toBeGreaterThan(0);
  // Each line stands for itself and the refusals since the one before: never more than happened.
  const accounted = lines.reduce((sum, line) => sum + 1 + (line.refusedSinceLastLine as number), 0);
  expect(accounted).toBeLessThanOrEqual(refused);
  expect(lines.length).toBeLessThan(refused / 10);
});

describe('/metrics behind METRICS_TOKEN', () => {
  test('without the bearer token 401, with a wrong one 401, with the right one the metrics', async () => {
    const metricsToken = 'metrics-token-of-at-least-16-chars';
    await using srv = await startServer({ metricsToken });
    const url = `${srv.address.httpUrl}/metrics`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Basic ${metricsToken}` } })).status).toBe(401);
    const samples = await scrape(srv.address.httpUrl, metricsToken);
    expect(samples.get('websocket_errors_total{reason="auth_failed"}')).toBe(0);
    // Health, liveness and readiness stay open: load balancers probe them without a token.
    expect((await fetch(`${srv.address.httpUrl}/api/v1/ws/health`)).status).toBe(200);
  });
});
