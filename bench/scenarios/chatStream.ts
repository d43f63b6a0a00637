import { connectClients, eachRepeatAndPeer, type Scenario, steadyRun, topicsOf } from './scenario';

export const chatStream: Scenario = {
  name: 'chat-stream',
  about:
    "N = 1 000 clients, each on its own chat stream, receiving small tokens (a ~25-byte delta) at 20 tokens/s each (20 000 events/s in all). Ours: `chat.onEvent({ sessionId })`, then one `chat.send` starts a reply from a benchmark ChatAgent whose chunks are the published tokens (`chat_token` events). Peers: the client's own topic / room.",
  async run(ctx) {
    const { clients, tokensPerSecondPerClient } = ctx.config.chatStream;
    const prefix = 'chat-';
    const label = `N=${clients}`;
    await eachRepeatAndPeer(ctx, this.name, ctx.peers, [label], async (s) => {
      await connectClients(ctx, s, { total: clients, topic: { mode: 'own', prefix }, kind: 'chat' });
      const run = await steadyRun(ctx, s, { kind: 'chat', topics: topicsOf(prefix, clients), rate: clients * tokensPerSecondPerClient });
      return [{ config: label, figures: run.figures, warnings: run.warnings }];
    });
  },
};
