import { connectClients, eachRepeatAndPeer, type Scenario, steadyRun, topicsOf } from './scenario';

export const manyTopics: Scenario = {
  name: 'many-topics',
  about:
    'N = 1 000 clients, each subscribed to its own investigation; a steady 2 000 events/s spread round robin over the 1 000 topics (each client gets 2 events/s). Prices per-topic work rather than fan-out.',
  async run(ctx) {
    const { clients, rate } = ctx.config.manyTopics;
    const prefix = 'inv-';
    const label = `N=${clients}`;
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [label], async (s) => {
      await connectClients(ctx, s, { total: clients, topic: { mode: 'own', prefix }, kind: 'investigation' });
      const run = await steadyRun(ctx, s, { kind: 'normal', topics: topicsOf(prefix, clients), rate });
      return [{ config: label, figures: run.figures, warnings: run.warnings }];
    });
  },
};
