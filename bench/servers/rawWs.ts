/**
 * The practical limit: a plain `ws` server, in two variants (peers `raw` and
 * `raw-batched`, one entry so they share every line but the delivery). The JWT
 * (`?token=`) is verified at upgrade; `{"sub":"topic"}` joins a topic
 * (answered `{"ok":"topic"}`); a publish serializes the envelope once into a
 * Buffer, sent as a text frame to every socket of the topic:
 *
 * - `raw`: at once, one write per socket per event;
 * - `raw-batched` (RAW_WS_BATCH=1): through our batching (rawWsBatched.ts):
 *   per topic, events wait for the batch window (BATCH_WINDOW_MS of
 *   BENCH_LIMITS, else our default) and a critical event flushes at once; a
 *   batch's frames go to each socket corked, one write per socket per batch.
 *
 * Environment: BENCH_JWT_SECRET; RAW_WS_BATCH=1; BENCH_LIMITS; WS_PERMESSAGE_DEFLATE=1.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { limitDefaults } from '../../shared/limits';
import { listenHttp } from './listenHttp';
import { envelopeOf } from './payload';
import { benchLimits, benchSecret, type EventKind } from './protocol';
import { type Subscriber, TopicBatches } from './rawWsBatched';
import { runVariant } from './runner';
import { createVerifier } from './verifyJwt';

const verify = createVerifier(benchSecret());
const topics = new Map<string, Set<Subscriber>>();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: process.env.WS_PERMESSAGE_DEFLATE === '1' });
const batched = process.env.RAW_WS_BATCH === '1';
const batches = batched
  ? new TopicBatches(benchLimits().BATCH_WINDOW_MS ?? limitDefaults.BATCH_WINDOW_MS, (topic) => topics.get(topic))
  : null;

http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  void verify(token).then((userId) => {
    if (!userId) return socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection({ ws, socket }));
  });
});

function onConnection(sub: Subscriber) {
  const { ws } = sub;
  const joined = new Set<string>();
  ws.on('error', () => ws.terminate());
  ws.on('message', (data) => {
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return ws.send('{"error":"bad json"}');
    }
    const topic = (msg as { sub?: unknown }).sub;
    if (typeof topic !== 'string') return ws.send('{"error":"expected {\\"sub\\":\\"topic\\"}"}');
    let set = topics.get(topic);
    if (!set) {
      set = new Set();
      topics.set(topic, set);
    }
    set.add(sub);
    joined.add(topic);
    ws.send(JSON.stringify({ ok: topic }));
  });
  ws.on('close', () => {
    for (const topic of joined) {
      const set = topics.get(topic);
      set?.delete(sub);
      if (set?.size === 0) topics.delete(topic);
    }
  });
}

function publish(kind: EventKind, topic: string, seq: number, sentAt: number) {
  const set = topics.get(topic);
  if (!set) return;
  const envelope = envelopeOf(kind, topic, seq, sentAt);
  const frame = Buffer.from(JSON.stringify(envelope));
  if (batches) return batches.add(topic, envelope, frame);
  for (const { ws } of set) ws.send(frame, { binary: false });
}

await runVariant(batched ? 'rawWsBatched' : 'rawWs', {
  listen: () => listenHttp(http, '/'),
  publish,
});
