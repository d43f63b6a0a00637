/**
 * Events per second through the Redis engine with two nodes:
 * `npx tsx bench/redisTwoNodes.ts [events=20000] [subscribers=50]`.
 * Node A publishes (in-process, 64 in flight); `subscribers` typed tRPC clients
 * on node B receive. Everything shares this process and the machine's cores,
 * so the figure is a floor, not a peak. Needs Redis at REDIS_URL (default
 * redis://127.0.0.1:6379).
 */
import { randomUUID } from 'node:crypto';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { Redis } from 'ioredis';
import superjson from 'superjson';
import WebSocket from 'ws';
import { type AppRouter, createRealtimeServer, issueToken } from '../server/index';

const [events = 20_000, subscribers = 50] = process.argv.slice(2).map(Number);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const secret = randomUUID() + randomUUID();
const prefix = `bench:${randomUUID().slice(0, 8)}:`;
const limits = {
  HISTORY_SIZE: events,
  RATE_LIMIT_PER_SECOND: 10_000,
  RATE_LIMIT_BURST: 10_000,
  MAX_CONNECTIONS_PER_USER: subscribers,
  // Every subscriber connects from 127.0.0.1.
  MAX_PENDING_PER_IP: 0,
  CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: 0,
};
/** Two nodes of one deployment: the same Redis, key prefix, secret and limits. */
const node = () =>
  createRealtimeServer({ jwtSecret: secret, port: 0, host: '127.0.0.1', redisUrl, redisKeyPrefix: prefix, logLevel: 'warn', limits });
const nodeA = node();
const nodeB = node();
await nodeA.listen();
const b = await nodeB.listen();
const token = await issueToken(secret, { sub: 'bench', investigations: ['*'] });

let received = 0;
let done: () => void = () => undefined;
const allReceived = new Promise<void>((resolve) => (done = resolve));
const clients = [];
for (let i = 0; i < subscribers; i++) {
  const ws = createWSClient({ url: b.wsUrl, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, connectionParams: { token } });
  const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws, transformer: superjson })] });
  await new Promise<void>((started) =>
    trpc.investigation.onUpdate.subscribe(
      { investigationId: 'bench' },
      {
        onStarted: () => started(),
        onData: () => {
          if (++received === events * subscribers) done();
        },
      },
    ),
  );
  clients.push(ws);
}

const t0 = performance.now();
let next = 0;
async function worker() {
  while (next < events) {
    const i = next++;
    await nodeA.notifyInvestigationUpdate({ investigationId: 'bench', updateType: 'progress', data: { progress: i % 101 } });
  }
}
await Promise.all(Array.from({ length: 64 }, worker));
const published = performance.now();
await allReceived;
const t1 = performance.now();

const publishRate = Math.round(events / ((published - t0) / 1000));
const endToEnd = Math.round(events / ((t1 - t0) / 1000));
const deliveries = Math.round((events * subscribers) / ((t1 - t0) / 1000));
console.log(
  `redis engine, 2 nodes: ${events} events published on A at ${publishRate}/s; all reached ${subscribers} subscribers on B at ${endToEnd} events/s (${deliveries} deliveries/s)`,
);

for (const ws of clients) ws.close();
await nodeA.close();
await nodeB.close();

// Leave nothing behind in Redis.
const cleaner = new Redis(redisUrl);
const keys = await cleaner.keys(`${prefix}*`);
if (keys.length > 0) await cleaner.del(...keys);
cleaner.disconnect();
