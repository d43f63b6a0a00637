import { expect, test } from 'vitest';
import { collect, type InvestigationItem } from './support/collect';
import { startServer } from './support/server';

/**
 * A replay is paced by the client's reading, whatever hides the bytes from the
 * socket: ws's deflate queue, or a bound below the socket's own buffer (an
 * earlier version waited for the socket's 'drain', which never came there).
 */
test.each([
  {
    name: 'SLOW_CONSUMER_BYTES 32 KiB (below 4 x the socket highWaterMark), 2 KB events',
    opts: { limits: { SLOW_CONSUMER_BYTES: 32 * 1024, HISTORY_SIZE: 3_000 } },
    events: 3_000,
  },
  {
    name: 'WS_PERMESSAGE_DEFLATE on, default SLOW_CONSUMER_BYTES, the default history of 1000 events of 2 KB',
    opts: { perMessageDeflate: true },
    events: 1_000,
  },
])('a resume is delivered whole: $name', async ({ opts, events }) => {
  await using srv = await startServer(opts);
  const ids: string[] = [];
  for (let i = 0; i < events; i++) {
    const { id } = await srv.server.notifyInvestigationUpdate({
      investigationId: 'inv-1',
      updateType: 'agent_finding',
      data: { agent: 'load', finding: `chunk ${i} ${'x'.repeat(2_000)}` },
    });
    ids.push(id);
  }
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'reader', investigations: ['inv-1'] }) });
  const sub = collect<InvestigationItem>((o) =>
    client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: ids[0] }, o),
  );
  await sub.started;
  const items = await sub.take(events - 1);
  expect(items.map((i) => i.id)).toEqual(ids.slice(1));
});
