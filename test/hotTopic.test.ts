import { expect, test } from 'vitest';
import { RawWs } from './support/rawWs';
import { startServer } from './support/server';

/**
 * A topic with many subscribers is delivered in slices (the event loop turns
 * between them), and batches that flush meanwhile wait their turn: whatever
 * the timing, every subscriber gets every event once, in publish order.
 */
test('a hot topic with 600 subscribers: every one gets every event once and in order, critical ones included', async () => {
  const perConnection = 200;
  await using srv = await startServer({
    limits: { MAX_SUBSCRIPTIONS_PER_CONNECTION: perConnection, RATE_LIMIT_PER_SECOND: 1_000, RATE_LIMIT_BURST: 1_000, BATCH_WINDOW_MS: 5 },
  });
  const sockets: RawWs[] = [];
  try {
    for (let c = 0; c < 3; c++) {
      const token = await srv.token({ sub: `viewer-${c}`, investigations: ['inv-hot'] });
      const raw = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
      sockets.push(raw);
      for (let id = 1; id <= perConnection; id++) raw.request(id, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-hot' });
      await raw.until(
        () => (raw.frames.filter((f) => f.result?.type === 'started').length === perConnection ? true : undefined),
        'every subscription started',
      );
    }
    expect(srv.server.stats().subscriptions).toBe(600);

    // Published back to back: batches flush (by the window or by a critical
    // event) while earlier ones are still going out.
    const published: string[] = [];
    for (let i = 0; i < 40; i++) {
      const event =
        i % 7 === 3
          ? await srv.server.notifyAnomalyDetected({
              investigationId: 'inv-hot',
              anomaly: { severity: 'high', description: `anomaly ${i}`, contractId: 'ct-1', confidence: 0.9 },
            })
          : await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-hot', updateType: 'progress', data: { progress: i } });
      published.push(event.id);
    }

    for (const raw of sockets) {
      for (let id = 1; id <= perConnection; id++) {
        const events = await raw.waitForEvents(id, published.length);
        expect(events.map((e) => e.id)).toEqual(published);
      }
    }
  } finally {
    for (const raw of sockets) await raw.close();
  }
});
