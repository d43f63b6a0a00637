/**
 * The practical limit: a plain `ws` server. The JWT (`?token=`) is verified at
 * upgrade; `{"sub":"topic"}` joins a topic (answered `{"ok":"topic"}`); a
 * publish serializes the envelope once into a Buffer and sends it to every
 * socket of the topic as a text frame.
 */
import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { listenHttp } from './listenHttp';
import { envelopeOf } from './payload';
import { benchSecret, type EventKind } from './protocol';
import { runVariant } from './runner';
import { createVerifier } from './verifyJwt';

const verify = createVerifier(benchSecret());
const topics = new Map<string, Set<WebSocket>>();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: process.env.WS_PERMESSAGE_DEFLATE === '1' });

http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  void verify(token).then((userId) => {
    if (!userId) return socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });
});

function onConnection(ws: WebSocket) {
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
    set.add(ws);
    joined.add(topic);
    ws.send(JSON.stringify({ ok: topic }));
  });
  ws.on('close', () => {
    for (const topic of joined) {
      const set = topics.get(topic);
      set?.delete(ws);
      if (set?.size === 0) topics.delete(topic);
    }
  });
}

function publish(kind: EventKind, topic: string, seq: number, sentAt: number) {
  const set = topics.get(topic);
  if (!set) return;
  const frame = Buffer.from(JSON.stringify(envelopeOf(kind, topic, seq, sentAt)));
  for (const ws of set) ws.send(frame, { binary: false });
}

await runVariant('rawWs', {
  listen: () => listenHttp(http, '/'),
  publish,
});
