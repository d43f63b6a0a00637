import { planFor, type Session } from '../orchestrator/session';
import { eachRepeatAndPeer, hotTopic, type Scenario, type ScenarioContext } from './scenario';

/** How long the server gets to see the cold storm's connections closed before the warm one. */
const SETTLE_MS = 1_000;

export const connectStorm: Scenario = {
  name: 'connect-storm',
  about:
    'M = 2 000 connections opened with 200 in flight at a time, each authenticated (JWT verified with jose by every server) and subscribed to the hot topic (until `started` / the ack). Tokens are signed before the clock starts. Twice on one server process: `cold`, its first connections (what they cost includes compiling the connection path), then, once those are closed, `warm` (M other users: a serving node hit by a wave of reconnects).',
  async run(ctx) {
    const { connections } = ctx.config.connectStorm;
    const cold = `M=${connections} cold`;
    const warm = `M=${connections} warm`;
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [cold, warm], async (s) => {
      const first = await storm(ctx, s, 0);
      await s.loadgen.closeAll();
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const second = await storm(ctx, s, connections);
      return [
        { config: cold, ...first },
        { config: warm, ...second },
      ];
    });
  },
};

/** One storm of M connections, users from `from`: its figures, and a warning when any failed. */
async function storm(ctx: ScenarioContext, s: Session, from: number) {
  const { config } = ctx;
  const { connections, concurrency } = config.connectStorm;
  await s.loadgen.prepare(
    planFor(s, {
      from,
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
  return {
    figures: {
      connPerSec: result.opened / (result.ms / 1000),
      cpuUsPerConn: (c1 - c0) / Math.max(1, result.opened),
      loadgenCpuUsPerConn: (g1.cpuUs - g0.cpuUs) / Math.max(1, result.opened),
    },
    warnings,
  };
}
