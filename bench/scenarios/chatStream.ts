import { measuredRun } from '../orchestrator/measuredRun';
import { connectOrThrow } from '../orchestrator/session';
import { eachRepeatAndPeer, topicsOf, type Scenario } from './scenario';

export const chatStream: Scenario = {
  name: 'chat-stream',
  about:
    "N = 1 000 clients, each on its own chat stream, receiving small tokens (a ~25-byte delta) at 20 tokens/s each (20 000 events/s in all). Ours: `chat.onEvent({ sessionId })`, then one `chat.send` starts a reply from a benchmark ChatAgent whose chunks are the published tokens (`chat_token` events). Peers: the client's own topic / room.",
  async run(ctx) {
    const { config } = ctx;
    const { clients, tokensPerSecondPerClient } = config.chatStream;
    const prefix = 'chat-';
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [`N=${clients}`], async (s) => {
      await connectOrThrow(s, { from: 0, total: clients, topic: { mode: 'own', prefix }, kind: 'chat', concurrency: config.connectConcurrency, timeoutMs: config.connectTimeoutMs }, config.connectTimeoutMs * 2);
      const run = await measuredRun(s, {
        kind: 'chat',
        topics: topicsOf(prefix, clients),
        mode: 'steady',
        rate: clients * tokensPerSecondPerClient,
        warmupMs: config.steadyWarmupMs,
        measureMs: config.steadyMeasureMs,
        drainTimeoutMs: config.drainTimeoutMs,
      });
      return [{ config: `N=${clients}`, figures: run.figures, warnings: run.warnings }];
    });
  },
};
