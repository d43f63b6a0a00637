import { measuredRun } from '../orchestrator/measuredRun';
import { connectOrThrow } from '../orchestrator/session';
import { eachRepeatAndPeer, topicsOf, type Scenario } from './scenario';

export const manyTopics: Scenario = {
  name: 'many-topics',
  about:
    'N = 1 000 clients, each subscribed to its own investigation; a steady 2 000 events/s spread round robin over the 1 000 topics (each client gets 2 events/s). Prices per-topic work rather than fan-out.',
  async run(ctx) {
    const { config } = ctx;
    const { clients, rate } = config.manyTopics;
    const prefix = 'inv-';
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [`N=${clients}`], async (s) => {
      await connectOrThrow(s, { from: 0, total: clients, topic: { mode: 'own', prefix }, kind: 'investigation', concurrency: config.connectConcurrency, timeoutMs: config.connectTimeoutMs }, config.connectTimeoutMs * 2);
      const run = await measuredRun(s, { kind: 'normal', topics: topicsOf(prefix, clients), mode: 'steady', rate, warmupMs: config.steadyWarmupMs, measureMs: config.steadyMeasureMs, drainTimeoutMs: config.drainTimeoutMs });
      return [{ config: `N=${clients}`, figures: run.figures, warnings: run.warnings }];
    });
  },
};
