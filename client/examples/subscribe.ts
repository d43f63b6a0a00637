/**
 * The smallest real subscriber: `npx tsx client/examples/subscribe.ts <token> [investigationId] [url]`.
 * Prints every event of the investigation as it arrives; Ctrl-C to stop.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../../server/index';

const [token, investigationId = 'inv-1', url = 'ws://127.0.0.1:8000/api/v1/ws'] = process.argv.slice(2);
if (!token) {
  process.stderr.write('usage: npx tsx client/examples/subscribe.ts <token> [investigationId] [ws url]\n');
  process.exit(2);
}

const wsClient = createWSClient({
  url,
  // Node.js 20 has no global WebSocket.
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  connectionParams: { token },
  onClose: (cause) => process.stderr.write(`connection closed${cause?.code ? ` (${cause.code})` : ''}\n`),
});
const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });

trpc.investigation.onUpdate.subscribe(
  { investigationId },
  {
    onStarted: () => process.stdout.write(`subscribed to investigation ${investigationId}\n`),
    onData: ({ id, data: event }) => {
      const line = { id, type: event.type, timestamp: event.timestamp.toISOString(), data: event.data };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    },
    onError: (err) => {
      process.stderr.write(`subscription error: ${err.message}\n`);
      process.exit(1);
    },
  },
);

process.once('SIGINT', () => {
  wsClient.close();
  process.exit(0);
});
