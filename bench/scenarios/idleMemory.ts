import { sleep } from '../clock';
import { connectClients, eachRepeatAndPeer, hotTopic, type Outcome, type Scenario } from './scenario';

const KB = 1024;
const MB = 1024 * 1024;

export const idleMemory: Scenario = {
  name: 'idle-memory',
  about:
    'A fresh server; its memory after gc with no connection is the baseline; then 1 000, 5 000 and 10 000 connections (added in steps), each authenticated and subscribed to the hot topic, idle. After gc at each step: (RSS − baseline) / N and (heapUsed + external − baseline) / N.',
  async run(ctx) {
    const { levels, settleMs } = ctx.config.idleMemory;
    await eachRepeatAndPeer(
      ctx,
      this.name,
      ctx.peers,
      levels.map((n) => `N=${n}`),
      async (s) => {
        await sleep(settleMs);
        const base = await s.server.channel.request('gc', {});
        const outcomes: Outcome[] = [];
        let have = 0;
        for (const level of levels) {
          await connectClients(ctx, s, { from: have, total: level - have, topic: { mode: 'hot', name: hotTopic }, kind: 'investigation' });
          have = level;
          await sleep(settleMs);
          const u = await s.server.channel.request('gc', {});
          outcomes.push({
            config: `N=${level}`,
            figures: {
              rssPerConnKB: (u.rss - base.rss) / level / KB,
              heapPerConnKB: (u.heapUsed + u.external - (base.heapUsed + base.external)) / level / KB,
              rssMB: u.rss / MB,
            },
            warnings: [],
          });
        }
        return outcomes;
      },
    );
  },
};
