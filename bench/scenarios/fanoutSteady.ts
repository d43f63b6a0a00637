import type { SteadyKind } from '../config';
import { connectClients, eachRepeatAndPeer, hotTopic, type Outcome, type Scenario, steadyRun } from './scenario';

export const steadyConfig = (subscribers: number, rate: number, kind: SteadyKind) => `N=${subscribers} R=${rate} ${kind}`;

export const fanoutSteady: Scenario = {
  name: 'fanout-steady',
  about:
    'One hot investigation, a steady R events/s to N subscribers (R × N deliveries/s): N = 1 000 at R = 100 and 20, normal events (agent findings, which our server batches) then critical ones (anomalies of severity high, which flush at once) on the same connections; and N = 5 000 at R = 20, normal events (the peers with batched delivery only: 100 000 msg/s is beyond the others here). Latency and CPU per message are what matter; latency is counted from when each event was due, so a server too busy to keep the schedule shows it.',
  async run(ctx) {
    for (const { subscribers, rates, kinds, peers } of ctx.config.fanoutSteady) {
      const labels = rates.flatMap((r) => kinds.map((k) => steadyConfig(subscribers, r, k)));
      const chosen = peers ? ctx.peers.filter((p) => peers.includes(p.name)) : ctx.peers;
      await eachRepeatAndPeer(ctx, this.name, chosen, labels, async (s) => {
        await connectClients(ctx, s, { total: subscribers, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation' });
        const outcomes: Outcome[] = [];
        let stuck = false;
        for (const rate of rates) {
          for (const kind of kinds) {
            const label = steadyConfig(subscribers, rate, kind);
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
    }
  },
};
