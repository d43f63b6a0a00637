/**
 * The smallest real subscriber: `npx tsx client/examples/subscribe.ts <token> [investigationId] [url]`.
 * Prints every event of the investigation as it arrives (reconnecting and
 * resuming by itself), and the folded state after each; Ctrl-C to stop.
 */
import WebSocket from 'ws';
import { createRealtimeClient, investigationFold } from '../index';

const [token, investigationId = 'inv-1', url = 'ws://127.0.0.1:8000/api/v1/ws'] = process.argv.slice(2);
if (!token) {
  process.stderr.write('usage: npx tsx client/examples/subscribe.ts <token> [investigationId] [ws url]\n');
  process.exit(2);
}

// Node.js 20 has no global WebSocket.
const client = createRealtimeClient({ url, getToken: () => token, WebSocket });
client.onStateChange((state) => process.stderr.write(`connection: ${JSON.stringify(state)}\n`));

const topic = client.investigation(investigationId);
topic.onStarted(() => process.stdout.write(`subscribed to investigation ${investigationId}\n`));
topic.onError((err) => {
  process.stderr.write(`subscription error: ${err.message}\n`);
  process.exit(1);
});
topic.onEvent((event) => {
  const line = { id: event.id, type: event.type, timestamp: event.timestamp.toISOString(), data: event.data };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});

// The same state the React hook shows, folded once from the retained history; it shares the subscription above.
const folded = topic.fold(investigationFold);
folded.subscribe(() => {
  const { status, progress, anomalyCount } = folded.getSnapshot().state;
  process.stdout.write(`  state: ${status ?? 'no status'}, ${progress ?? 0}%, ${anomalyCount} anomalies\n`);
});

process.once('SIGINT', () => {
  void client.close().then(() => process.exit(0));
});
