import { quantileUs } from '../histogram';
import { connectClients, eachRepeatAndPeer, hotTopic, type Scenario } from './scenario';

const MB = 1024 * 1024;
const DRAIN_MS = 30_000;

export const hold10k: Scenario = {
  name: 'hold-10k',
  about:
    '10 000 authenticated connections, each with two subscriptions (the hot investigation and `notification.onNotification`), all started; then one investigation event and one broadcast notification are published, and every connection must receive both. Only peers with notifications (ours).',
  async run(ctx) {
    const n = ctx.config.hold.connections;
    const label = `N=${n}`;
    const peers = ctx.peers.filter((p) => p.notifications);
    await eachRepeatAndPeer(ctx, this.name, peers, [label], async (s) => {
      await connectClients(ctx, s, { total: n, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation', withNotifications: true });
      const request = s.server.channel.request.bind(s.server.channel);
      await s.loadgen.mark();
      await request('startRun', { kind: 'normal', topics: [hotTopic], mode: 'once', maxDurationMs: 60_000 });
      const run = await request('stopRun', {}, 60_000);
      await request('startRun', { kind: 'notification', topics: ['broadcast'], mode: 'once', maxDurationMs: 60_000 });
      const note = await request('stopRun', {}, 60_000);
      const drain = await s.loadgen.drain(run.lastSeqByTopic, 1, DRAIN_MS);
      const latency = (await s.loadgen.mark()).histogram;
      const stats = await s.loadgen.stats();
      const usage = await request('usage', {});
      const closed = Object.values(stats.closed).reduce((a, b) => a + b, 0);
      const held = drain.behind === 0 && closed === 0 && run.errors === 0 && note.errors === 0;
      const warnings: string[] = [];
      if (drain.behind > 0) warnings.push(`${drain.behind} connections missed an event (${drain.missing} missing)`);
      if (closed > 0) warnings.push(`${closed} connections closed by the server: ${JSON.stringify(stats.closed)}`);
      if (run.errors + note.errors > 0) warnings.push(`publish failed: ${run.firstError ?? note.firstError ?? '?'}`);
      return [
        {
          config: label,
          figures: { held: held ? 1 : 0, rssMB: usage.rss / MB, p99Ms: quantileUs(latency, 0.99) / 1000, maxMs: latency.maxUs / 1000 },
          warnings,
        },
      ];
    });
  },
};
