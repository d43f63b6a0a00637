/**
 * Our server, through its public API only: createRealtimeServer with the
 * in-memory engine, published to with its in-process functions. Chat tokens
 * have no public in-process publisher, so they go through the `chatAgent`
 * option: each client's `chat.send` starts a reply whose chunks are the
 * tokens this process publishes for that session.
 *
 * Environment (a variant's `env` in peers.ts): BENCH_JWT_SECRET; BENCH_LIMITS
 * (JSON, overrides of limits); WS_PERMESSAGE_DEFLATE=1; BENCH_REDIS_URL and
 * BENCH_REDIS_PREFIX (the Redis engine, redis-two-nodes: every node of one
 * deployment gets the same URL and key prefix).
 */
import { type ChatAgent, createRealtimeServer } from '../../server/index';
import { marker } from '../marker';
import { agentFindingData, anomalyData, notificationData } from './payload';
import { benchLimits, benchSecret, type EventKind } from './protocol';
import { runVariant } from './runner';
import { TokenQueue } from './tokenQueue';

const streams = new Map<string, TokenQueue>();
const streamOf = (sessionId: string) => {
  let q = streams.get(sessionId);
  if (!q) {
    q = new TokenQueue();
    streams.set(sessionId, q);
  }
  return q;
};
const chatAgent: ChatAgent = { reply: ({ sessionId, signal }) => streamOf(sessionId).drain(signal) };

// Defaults everywhere (each connection has its own user, so no per-user limit
// is hit), except the per-address bounds: every load-generator socket comes
// from 127.0.0.1, which a real deployment never sees from one client.
const limits = {
  MAX_PENDING_PER_IP: 0,
  CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: 0,
  ...benchLimits(),
};

const perMessageDeflate = ['1', 'true'].includes(process.env.WS_PERMESSAGE_DEFLATE ?? '');
const server = createRealtimeServer({
  jwtSecret: benchSecret(),
  host: '127.0.0.1',
  port: 0,
  logLevel: 'warn',
  limits,
  perMessageDeflate,
  chatAgent,
  ...(process.env.BENCH_REDIS_URL
    ? { redisUrl: process.env.BENCH_REDIS_URL, redisKeyPrefix: process.env.BENCH_REDIS_PREFIX ?? 'bench:' }
    : {}),
});

function publish(kind: EventKind, topic: string, seq: number, sentAt: number) {
  switch (kind) {
    case 'normal': {
      const { investigationId, updateType, ...data } = agentFindingData(topic, seq, sentAt);
      return server.notifyInvestigationUpdate({ investigationId, updateType, data });
    }
    case 'critical': {
      const { investigationId, ...anomaly } = anomalyData(topic, seq, sentAt);
      return server.notifyAnomalyDetected({ investigationId, anomaly });
    }
    case 'chat':
      return streamOf(topic).push(marker(0, seq, sentAt));
    case 'notification':
      return server.sendNotification({ broadcast: true, ...notificationData(seq, sentAt) });
  }
}

await runVariant('ours', {
  async listen() {
    const { port, wsUrl } = await server.listen();
    return { port, wsUrl };
  },
  publish,
});
