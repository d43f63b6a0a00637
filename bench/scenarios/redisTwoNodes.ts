import { randomBytes } from 'node:crypto';
import { sleep } from '../clock';
import { measuredRun } from '../orchestrator/measuredRun';
import { type NodesSession, withNodes } from '../orchestrator/nodes';
import { benchRedisUrl, deleteKeys, redisUnreachable } from '../orchestrator/redis';
import { connectClients, hotTopic, measureOnce, type Outcome, type Scenario, type ScenarioContext, steadyRun } from './scenario';

const NODE_COUNTS = [1, 2] as const;
/** Lets every node's Redis subscription to the topic be in place before the first event. */
const SUBSCRIBE_SETTLE_MS = 500;

export const redisNodesConfig = (nodes: number, what: string) => `${nodes} node${nodes > 1 ? 's' : ''}, ${what}`;

export const redisTwoNodes: Scenario = {
  name: 'redis-two-nodes',
  about:
    'Ours only, on the Redis engine (REDIS_URL, default redis://127.0.0.1:6379; a unique key prefix per session, deleted after it): two server processes of one deployment (same secret, prefix, limits), events published in-process on node A, N = 1 000 subscribers of one investigation half on A and half on B, a steady 20 events/s, then as fast as the flow-control credit allows; against ONE node on Redis holding all N. Server CPU per delivered message is summed over the nodes (/proc of each). Skipped with a loud line when Redis does not answer.',
  async run(ctx) {
    const ours = ctx.peers.find((p) => p.name === 'ours');
    if (!ours) return ctx.log('redis-two-nodes: skipped, it runs ours only (not among --peers)');
    const { rate, maxRate } = ctx.config.redisTwoNodes;
    const configsOf = (nodes: number) => [redisNodesConfig(nodes, `R=${rate}`), ...(maxRate ? [redisNodesConfig(nodes, 'max')] : [])];
    const url = benchRedisUrl();
    const why = await redisUnreachable(url);
    if (why) {
      const reason = `skipped: Redis not reachable at ${url} (${why}); set REDIS_URL or start redis-server`;
      ctx.log(`  !!! [redis-two-nodes] ${reason}`);
      for (const nodes of NODE_COUNTS)
        for (const config of configsOf(nodes))
          ctx.record({ scenario: this.name, config, peer: ours.name, repeat: 1, figures: {}, warnings: [reason], failed: reason });
      return;
    }
    const runId = randomBytes(4).toString('hex');
    for (let repeat = 1; repeat <= ctx.config.repeats; repeat++) {
      for (const nodes of NODE_COUNTS) {
        const prefix = `bench:${runId}:${nodes}n${repeat}:`;
        const peer = { ...ours, env: { ...ours.env, BENCH_REDIS_URL: url, BENCH_REDIS_PREFIX: prefix } };
        await measureOnce<NodesSession>(
          ctx,
          this.name,
          { peer, repeat, configs: configsOf(nodes) },
          (s) => measure(ctx, s),
          (p, opts, fn) => withNodes(nodes, p, opts, fn),
        );
        await deleteKeys(url, prefix).catch((err: unknown) =>
          ctx.log(`  !!! [redis-two-nodes] keys under ${prefix} not deleted: ${String(err)}`),
        );
      }
    }
  },
};

/** Subscribers split evenly over the nodes; a steady run, then (if configured) a maximum-rate one on the same connections. */
async function measure(ctx: ScenarioContext, s: NodesSession): Promise<Outcome[]> {
  const { subscribers, rate, maxRate } = ctx.config.redisTwoNodes;
  const nodes = s.nodes.length;
  const share = Math.ceil(subscribers / nodes);
  for (const [i, node] of s.nodes.entries()) {
    const from = i * share;
    await connectClients(
      ctx,
      { ...s, server: node },
      { from, total: Math.min(share, subscribers - from), topic: { mode: 'hot', name: hotTopic }, kind: 'investigation' },
    );
  }
  await sleep(SUBSCRIBE_SETTLE_MS);
  const steady = await steadyRun(ctx, s, { kind: 'normal', topics: [hotTopic], rate });
  const outcomes: Outcome[] = [{ config: redisNodesConfig(nodes, `R=${rate}`), figures: steady.figures, warnings: steady.warnings }];
  if (!maxRate) return outcomes;
  const config = redisNodesConfig(nodes, 'max');
  if (steady.stuck) return [...outcomes, { config, figures: {}, warnings: [], failed: 'not run: the steady run left a backlog' }];
  const { steadyWarmupMs, steadyMeasureMs, drainTimeoutMs, fanoutMax } = ctx.config;
  const max = await measuredRun(s, {
    kind: 'normal',
    topics: [hotTopic],
    mode: 'flow',
    window: fanoutMax.window(subscribers),
    seqBase: steady.lastSeqByTopic[hotTopic] ?? 0,
    warmupMs: steadyWarmupMs,
    measureMs: steadyMeasureMs,
    drainTimeoutMs,
  });
  return [...outcomes, { config, figures: max.figures, warnings: max.warnings }];
}
