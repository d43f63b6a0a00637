import { expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import { collect, type InvestigationItem } from './support/collect';
import { metricValue } from './support/hostile';
import { publishUntilDropped } from './support/publishUntilDropped';
import { RawWs } from './support/rawWs';
import { startServer } from './support/server';
import { waitFor } from './support/wait';

test('a client that stops reading is closed with 4013, its subscriptions freed at once, and the others receive everything', async () => {
  const SLOW_CONSUMER_BYTES = 256 * 1024;
  await using srv = await startServer({ limits: { SLOW_CONSUMER_BYTES, BATCH_WINDOW_MS: 10 } });
  const token = await srv.token({ sub: 'reader', investigations: ['inv-1'] });

  // A healthy subscriber on the same topic, through the typed client.
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'healthy', investigations: ['inv-1'] }) });
  const healthy = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
  await healthy.started;

  await using stuck = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
  stuck.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
  await stuck.response(1);
  stuck.socket.pause();

  // ~64 KB events until the server gives up on the stuck client (bounded: at most 64 MB).
  const ids = await publishUntilDropped(srv, 'inv-1', async (i) => {
    // Let the batch go out and the socket buffers fill.
    if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
  });
  // The stuck client's subscription was dropped while its socket is still closing.
  await waitFor(
    () => srv.server.stats().subscriptions,
    (n) => n === 1,
    'the stuck subscription to be freed',
  );
  expect(srv.server.stats().bus.subscribers).toBe(1);

  // When the client reads again, it finds the close frame behind the data it had not read.
  stuck.socket.resume();
  const closed = await stuck.closed;
  expect(closed.code).toBe(CloseCode.SLOW_CONSUMER);

  // The healthy subscriber got every event, in order.
  await healthy.take(ids.length);
  expect(healthy.items.map((item) => item.id)).toEqual(ids);
  await waitFor(
    () => srv.server.stats().connections,
    (n) => n === 1,
    'the stuck connection to be gone',
  );
});

test('replies count against SLOW_CONSUMER_BYTES like events: a client that sends calls and never reads their answers is closed with 4013', async () => {
  const SLOW_CONSUMER_BYTES = 64 * 1024;
  // A budget this client does not reach: what stops it here is the outbound bound.
  await using srv = await startServer({ limits: { SLOW_CONSUMER_BYTES, RATE_LIMIT_PER_SECOND: 1_000_000, RATE_LIMIT_BURST: 1_000_000 } });
  const token = await srv.token({ sub: 'deaf' });
  await using deaf = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
  deaf.socket.pause();

  // Each NOT_FOUND answer names the path (cut to 200 characters): ~600 bytes. Bounded: at most 100 000 calls.
  const call = JSON.stringify({ id: 1, method: 'query', params: { path: `no.${'x'.repeat(300)}` } });
  let sent = 0;
  while (sent < 100_000 && (await metricValue(srv.address.httpUrl, 'realtime_slow_consumers_total')) === 0) {
    for (let i = 0; i < 500; i++) deaf.send(call);
    sent += 500;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(sent).toBeLessThan(100_000);

  // Reading again, it finds the close behind the answers it had not read.
  deaf.socket.resume();
  expect((await deaf.closed).code).toBe(CloseCode.SLOW_CONSUMER);
  expect(deaf.frames.length).toBeGreaterThan(0);
  expect(deaf.frames.every((f) => f.error !== undefined && JSON.stringify(f).length < 1_024)).toBe(true);
  await waitFor(
    () => srv.server.stats().connections,
    (n) => n === 0,
    'the deaf connection to be gone',
  );
});
