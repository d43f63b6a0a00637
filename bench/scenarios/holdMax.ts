import { sleep } from '../clock';
import { quantileUs } from '../histogram';
import { connectClients, eachRepeatAndPeer, hotTopic, type Scenario } from './scenario';

const KB = 1024;
const MB = 1024 * 1024;
const DRAIN_MS = 30_000;
const SETTLE_MS = 1_000;

export const holdMax: Scenario = {
  name: 'hold-max',
  about:
    "As many connections as one server process may hold here (its descriptor limit is 20 000): ~19 000, each authenticated and subscribed to ONE investigation, opened by 3 generator processes whose sockets bind source addresses spread over 127.0.0.2 … 127.0.0.65 (no address pair runs out of ephemeral ports; the per-address limits of ours are off, as in every scenario). After gc, (RSS − the empty server's gc'd RSS) / N; then one event is published and every connection must receive it: the p99 and max of its latency over all of them. Peers: ours and raw ws (`holdMax` in peers.ts says why not the others).",
  async run(ctx) {
    const { connections: n, workers, sourceAddresses } = ctx.config.hold;
    const label = `N=${n}`;
    const peers = ctx.peers.filter((p) => p.holdMax);
    await eachRepeatAndPeer(
      ctx,
      this.name,
      peers,
      [label],
      async (s) => {
        const request = s.server.channel.request.bind(s.server.channel);
        await sleep(SETTLE_MS);
        const base = await request('gc', {});
        await connectClients(ctx, s, { total: n, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation', sourceAddresses });
        await sleep(SETTLE_MS);
        const idle = await request('gc', {});
        await s.loadgen.mark(); // the latency histogram now starts empty
        await request('startRun', { kind: 'normal', topics: [hotTopic], mode: 'once', maxDurationMs: 60_000 });
        const run = await request('stopRun', {}, 60_000);
        const drain = await s.loadgen.drain(run.lastSeqByTopic, 0, DRAIN_MS);
        const latency = (await s.loadgen.mark()).histogram;
        const stats = await s.loadgen.stats();
        const closed = Object.values(stats.closed).reduce((a, b) => a + b, 0);
        const warnings: string[] = [];
        if (drain.behind > 0) warnings.push(`${drain.behind} connections did not get the event within ${DRAIN_MS / 1000} s`);
        if (closed > 0) warnings.push(`${closed} connections closed by the server: ${JSON.stringify(stats.closed)}`);
        if (run.errors > 0) warnings.push(`publish failed: ${run.firstError ?? '?'}`);
        const got = stats.connections - drain.behind;
        return [
          {
            config: label,
            figures: {
              held: drain.behind === 0 && closed === 0 && run.errors === 0 && stats.connections === n ? 1 : 0,
              heldConnections: got,
              rssPerConnKB: (idle.rss - base.rss) / n / KB,
              heapPerConnKB: (idle.heapUsed + idle.external - (base.heapUsed + base.external)) / n / KB,
              rssMB: idle.rss / MB,
              p99Ms: quantileUs(latency, 0.99) / 1000,
              maxMs: latency.maxUs / 1000,
            },
            warnings,
          },
        ];
      },
      { workers },
    );
  },
};
