import { expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import { collect, type InvestigationItem } from './support/collect';
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
  const blob = 'x'.repeat(64 * 1024);
  const ids: string[] = [];
  for (let i = 0; i < 1000 && srv.server.stats().subscriptions > 1; i++) {
    const { id } = await srv.server.notifyInvestigationUpdate({
      investigationId: 'inv-1',
      updateType: 'agent_finding',
      data: { agent: 'load', finding: `chunk ${i}`, details: { blob } },
    });
    ids.push(id);
    // Let the batch go out and the socket buffers fill.
    if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
  }
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
