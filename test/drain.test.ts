import { expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import type { Health } from '../shared/health';
import { capturedLogger } from './support/capturedLogger';
import { RawWs } from './support/rawWs';
import { scrape, seriesValue } from './support/scrape';
import { startServer } from './support/server';

const CLIENTS = 25;

test('a drain: 503 for readiness and new clients, pending batches flushed, every client closed with 1012 in waves, the node closed', async () => {
  const log = capturedLogger();
  // The default batch window: an event published just before the drain is still pending when it starts.
  await using srv = await startServer({ drainSeconds: 2, logger: log.logger });
  const token = await srv.token({ sub: 'alice', investigations: ['inv-1'] });
  const clients: RawWs[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    // Distinct users: the per-user limit (10) is not what this is about.
    const raw = await RawWs.open(
      `${srv.address.wsUrl}?token=${encodeURIComponent(await srv.token({ sub: `u${i}`, investigations: ['inv-1'] }))}`,
    );
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
    clients.push(raw);
  }
  // The seed's dialect too, on its per-resource path.
  const json = await RawWs.open(`${srv.address.wsUrl}/investigations/inv-1?token=${encodeURIComponent(token)}`);
  for (const raw of clients) expect((await raw.response(1)).result?.type).toBe('started');
  await json.frame((f) => (f as { type?: string }).type === 'subscribed', 'the JSON client subscribed');

  // The first event of a quiet topic goes at once; the second waits for the window, and the drain flushes it.
  const first = await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 40 } });
  const { id } = await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 50 } });
  const drained = srv.server.drain();

  // While it drains: not ready, health says why, alive, no new clients, the gauge up. Asked all at
  // once: the waves of 26 clients take a few hundred milliseconds, after which HTTP closes too.
  const [health, ready, live, metrics, upgrade] = await Promise.all([
    fetch(`${srv.address.httpUrl}/api/v1/ws/health`),
    fetch(`${srv.address.httpUrl}/api/v1/ws/ready`),
    fetch(`${srv.address.httpUrl}/api/v1/ws/live`),
    scrape(srv.address.httpUrl),
    RawWs.open(`${srv.address.wsUrl}?token=${encodeURIComponent(token)}`).then(
      () => null,
      (err: Error) => err,
    ),
  ]);
  expect(health.status).toBe(503);
  expect((await health.json()) as Health).toMatchObject({ status: 'draining', reason: 'shutting_down' });
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ status: 'not_ready', reason: 'shutting_down' });
  expect(live.status).toBe(200);
  expect(seriesValue(metrics, 'realtime_draining')).toBe(1);
  expect(upgrade?.message).toMatch(/503/);

  await drained;
  // Every client got the pending event before its 1012.
  for (const raw of clients) {
    expect(raw.events(1).map((e) => e.id)).toEqual([first.id, id]);
    expect(await raw.closed).toEqual({ code: CloseCode.SERVICE_RESTART, reason: 'node draining' });
  }
  expect((await json.closed).code).toBe(CloseCode.SERVICE_RESTART);
  expect(json.frames.some((f) => (f as { id?: string; type?: string }).type === 'investigation_update')).toBe(true);

  // In waves (at least 10 a wave, DRAIN_SECONDS/2 to spread them), each step logged.
  // 26 connections: three waves, as even as they go.
  const waves = log.events('drain_wave');
  expect(waves.map((w) => w.closed)).toEqual([9, 9, 8]);
  for (const step of ['drain_started', 'drain_flushed', 'drain_clients_closed', 'closed']) expect(log.events(step)).toHaveLength(1);
  // Every connection logged its close with why and for how long.
  const closedLines = log.events('connection_closed');
  expect(closedLines).toHaveLength(CLIENTS + 1);
  for (const line of closedLines) {
    expect(line).toMatchObject({ code: CloseCode.SERVICE_RESTART, remoteAddress: '127.0.0.1', durationMs: expect.any(Number) });
  }
  expect(JSON.stringify(closedLines)).not.toContain(token);

  // The node is closed: nothing listens, nothing is held.
  await expect(fetch(`${srv.address.httpUrl}/api/v1/ws/live`)).rejects.toThrow();
  expect(srv.server.stats()).toMatchObject({ connections: 0, subscriptions: 0, bus: { topics: 0, subscribers: 0 } });
  // close() after a drain waits for it, and does nothing more.
  await srv.server.close();
});

test('a drain with no client at all ends at once', async () => {
  await using srv = await startServer({ drainSeconds: 5 });
  await srv.server.drain();
  await expect(fetch(`${srv.address.httpUrl}/api/v1/ws/live`)).rejects.toThrow();
});

test('readiness, liveness and health of a node at work', async () => {
  await using srv = await startServer();
  const ready = await fetch(`${srv.address.httpUrl}/api/v1/ws/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
  const live = await fetch(`${srv.address.httpUrl}/api/v1/ws/live`);
  expect(live.status).toBe(200);
  const health = (await (await fetch(`${srv.address.httpUrl}/api/v1/ws/health`)).json()) as Health;
  expect(health.status).toBe('healthy');
});
