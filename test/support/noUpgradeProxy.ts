import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Headers of one hop only: never forwarded by a proxy. */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function forwardable(headers: NodeJS.Dict<string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  return out;
}

/**
 * An HTTP proxy that refuses every WebSocket upgrade with 403 (as some
 * corporate proxies and CDNs do) and forwards plain HTTP, streaming (a
 * Server-Sent Events response passes as it comes), to `target()`
 * (host:port, asked at each request: a node may move). A refused or failed
 * upstream is a 502. Disposable.
 */
export async function startNoUpgradeProxy(target: () => string) {
  const sockets = new Set<Socket>();
  let upgradesRefused = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const [host, port] = target().split(':');
    const upstream = request({ host, port: Number(port), method: req.method, path: req.url, headers: forwardable(req.headers) }, (up) => {
      res.writeHead(up.statusCode ?? 502, forwardable(up.headers));
      res.flushHeaders();
      up.on('data', (chunk: Buffer) => res.write(chunk));
      up.on('end', () => res.end());
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway');
      } else {
        res.destroy();
      }
    });
    req.pipe(upstream);
    res.on('close', () => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_req, socket: Socket) => {
    upgradesRefused++;
    socket.end(
      'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nWebSockets are not allowed',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** ws://127.0.0.1:<port>/api/v1/ws: what a client is given. */
    wsUrl: `ws://127.0.0.1:${port}/api/v1/ws`,
    get upgradesRefused() {
      return upgradesRefused;
    },
    get requests() {
      return requests;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
