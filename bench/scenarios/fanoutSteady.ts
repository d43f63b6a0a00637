import { connectClients, eachRepeatAndPeer, hotTopic, type Outcome, type Scenario, steadyRun } from './scenario';

const kinds = ['normal', 'critical'] as const;
export const steadyConfig = (rate: number, kind: (typeof kinds)[number]) => `R=${rate} ${kind}`;

export const fanoutSteady: Scenario = {
  name: 'fanout-steady',
  about:
    'One hot investigation, N = 1 000 subscribers, a steady R events/s (R × 1 000 deliveries/s; R = 100 and 20): normal events (agent findings, which our server batches), then critical ones (anomalies of severity high, which flush at once), on the same connections. Latency is what matters; it is counted from when each event was due, so a server too busy to keep the schedule shows it.',
  async run(ctx) {
    const { subscribers, rates } = ctx.config.fanoutSteady;
    const labels = rates.flatMap((r) => kinds.map((k) => steadyConfig(r, k)));
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, labels, async (s) => {
      await connectClients(ctx, s, { total: subscribers, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation' });
      const outcomes: Outcome[] = [];
      let stuck = false;
      for (const rate of rates) {
        for (const kind of kinds) {
          const label = steadyConfig(rate, kind);
          if (stuck) {
            outcomes.push({
              config: label,
              figures: {},
              warnings: [],
              failed: 'not run: a previous run on these connections left a backlog (see its warnings)',
            });
            continue;
          }
          const run = await steadyRun(ctx, s, { kind, topics: [hotTopic], rate });
          outcomes.push({ config: label, figures: run.figures, warnings: run.warnings });
          stuck = run.stuck;
        }
      }
      return outcomes;
    });
  },
};
