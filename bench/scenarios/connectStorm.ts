import { planFor } from '../orchestrator/session';
import { eachRepeatAndPeer, hotTopic, type Scenario } from './scenario';

export const connectStorm: Scenario = {
  name: 'connect-storm',
  about:
    'M = 2 000 connections opened with 200 in flight at a time, each authenticated (JWT verified with jose by every server) and subscribed to the hot topic (until `started` / the ack). Tokens are signed before the clock starts.',
  async run(ctx) {
    const { config } = ctx;
    const { connections, concurrency } = config.connectStorm;
    const label = `M=${connections}`;
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [label], async (s) => {
      await s.loadgen.prepare(
        planFor(s, {
          from: 0,
          total: connections,
          topic: { mode: 'hot', name: hotTopic },
          kind: 'investigation',
          concurrency,
          timeoutMs: config.connectTimeoutMs,
        }),
      );
      const g0 = await s.loadgen.mark();
      const c0 = s.server.cpuUs();
      const result = await s.loadgen.open(config.connectTimeoutMs * 2);
      const c1 = s.server.cpuUs();
      const g1 = await s.loadgen.mark();
      const warnings = result.failed > 0 ? [`${result.failed} connections failed; first: ${result.errors.join(' | ')}`] : [];
      return [
        {
          config: label,
          figures: {
            connPerSec: result.opened / (result.ms / 1000),
            cpuUsPerConn: (c1 - c0) / Math.max(1, result.opened),
            loadgenCpuUsPerConn: (g1.cpuUs - g0.cpuUs) / Math.max(1, result.opened),
          },
          warnings,
        },
      ];
    });
  },
};
