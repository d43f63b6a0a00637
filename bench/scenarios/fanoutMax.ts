import { measuredRun } from '../orchestrator/measuredRun';
import { connectClients, eachRepeatAndPeer, hotTopic, type Scenario } from './scenario';

export const fanoutMax: Scenario = {
  name: 'fanout-max',
  about:
    'One hot investigation, every client subscribed to it, events published as fast as the flow-control credit allows (the slowest client at most `window` events behind). Measured at N = 1 000 and 5 000.',
  async run(ctx) {
    const { config } = ctx;
    for (const size of config.fanoutMax.sizes) {
      const label = `N=${size}`;
      await eachRepeatAndPeer(ctx, this.name, ctx.peers, [label], async (s) => {
        await connectClients(ctx, s, { total: size, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation' });
        const run = await measuredRun(s, {
          kind: 'normal',
          topics: [hotTopic],
          mode: 'flow',
          window: config.fanoutMax.window(size),
          warmupMs: config.warmupMs,
          measureMs: config.measureMs,
          drainTimeoutMs: config.drainTimeoutMs,
        });
        return [{ config: label, figures: run.figures, warnings: run.warnings }];
      });
    }
  },
};
