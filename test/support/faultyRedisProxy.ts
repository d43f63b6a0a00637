import { createServer, Socket } from 'node:net';

/**
 * A TCP proxy between a node and a real Redis that can lose one reply: once
 * armed with a marker, the first command stream from a client carrying the
 * marker is forwarded to Redis, Redis's answer is awaited (so the command
 * certainly ran) and swallowed, and both sockets are cut. The node sees its
 * connection drop with the command unanswered, as when a network or a Redis
 * failover loses a reply; it reconnects through the proxy, which forwards
 * faithfully again.
 */
export async function startFaultyRedisProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let marker: Buffer | null = null;
  let cuts = 0;

  const server = createServer((client) => {
    const upstream = new Socket();
    // The lost reply, once armed: set when the marked command went upstream.
    let losing = false;
    sockets.add(client);
    sockets.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('data', (chunk: Buffer) => {
      if (marker && chunk.includes(marker)) {
        marker = null;
        losing = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (losing) {
        cuts += 1;
        cut();
        return;
      }
      client.write(chunk);
    });
    upstream.connect(target.port, target.host);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    url: `redis://127.0.0.1:${port}`,
    /** Loses the reply to the next command that contains `text`, and cuts that connection. */
    loseNextReplyTo(text: string) {
      marker = Buffer.from(text);
    },
    /** How many replies were lost so far. */
    get cuts() {
      return cuts;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
