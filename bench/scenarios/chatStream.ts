import { connectClients, eachRepeatAndPeer, type Scenario, steadyRun, topicsOf } from './scenario';

export const chatStream: Scenario = {
  name: 'chat-stream',
  about:
    "N = 1 000 clients, each on its own chat stream, receiving small tokens (a ~25-byte delta) at 50 tokens/s each asked (50 000 tokens/s in all). Ours: `chat.onEvent({ sessionId })`, then one `chat.send` starts a reply from a benchmark ChatAgent whose chunks are the published tokens (`chat_token` events). Peers: the client's own topic / room; the yardstick is raw ws, one frame per token. Every token must arrive, in order, once.",
  async run(ctx) {
    const { clients, tokensPerSecondPerClient } = ctx.config.chatStream;
    const prefix = 'chat-';
    const label = `N=${clients} ${tokensPerSecondPerClient}/s each`;
    // Not the JSON dialect: a chat reply starts with chat.send, which the generator speaks in tRPC only.
    const peers = ctx.peers.filter((peer) => peer.client.protocol !== 'json');
    await eachRepeatAndPeer(ctx, this.name, peers, [label], async (s) => {
      await connectClients(ctx, s, { total: clients, topic: { mode: 'own', prefix }, kind: 'chat' });
      const run = await steadyRun(ctx, s, { kind: 'chat', topics: topicsOf(prefix, clients), rate: clients * tokensPerSecondPerClient });
      return [{ config: label, figures: run.figures, warnings: run.warnings }];
    });
  },
};
