/**
 * Socket.IO 4 rooms: WebSocket transport only, an auth middleware verifying
 * the JWT from the handshake's `auth.token`, `subscribe` (with an ack) joins a
 * room, and a publish is `io.to(topic).emit('event', envelope)` (Socket.IO
 * encodes a broadcast once for all the room's sockets).
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listenHttp } from './listenHttp';
import { envelopeOf } from './payload';
import { benchSecret, type EventKind } from './protocol';
import { runVariant } from './runner';
import { createVerifier } from './verifyJwt';

const verify = createVerifier(benchSecret());
const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: process.env.WS_PERMESSAGE_DEFLATE === '1',
});

io.use((socket, next) => {
  const token: unknown = (socket.handshake.auth as { token?: unknown }).token;
  void verify(token).then((userId) => {
    if (!userId) return next(new Error('unauthorized'));
    socket.data = { userId };
    next();
  });
});

io.on('connection', (socket) => {
  socket.on('subscribe', (topic: unknown, ack: unknown) => {
    if (typeof topic !== 'string') return;
    void socket.join(topic);
    if (typeof ack === 'function') (ack as (r: string) => void)('ok');
  });
});

function publish(kind: EventKind, topic: string, seq: number, sentAt: number) {
  io.to(topic).emit('event', envelopeOf(kind, topic, seq, sentAt));
}

await runVariant('socketIo', {
  listen: () => listenHttp(http, '/socket.io/'),
  publish,
});
