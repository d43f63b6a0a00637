import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The Prometheus metrics of one server. Each server has its own registry, so
 * several servers in one process (tests, embedding) don't collide.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'realtime_' });
  const metrics = {
    registry,
    connections: new Gauge({
      name: 'realtime_connections',
      help: 'Open WebSocket connections',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    subscriptions: new Gauge({ name: 'realtime_subscriptions', help: 'Active subscriptions', registers: [registry] }),
    published: new Counter({
      name: 'realtime_events_published_total',
      help: 'Events published through this node',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    delivered: new Counter({
      name: 'realtime_events_delivered_total',
      help: "Events handed to subscribers' sockets",
      registers: [registry],
    }),
    closed: new Counter({
      name: 'realtime_connections_closed_total',
      help: 'Closed connections by close code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'realtime_requests_rate_limited_total',
      help: 'HTTP requests refused by the per-user rate limit',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'realtime_slow_consumers_total',
      help: 'Connections closed as slow consumers (4013)',
      registers: [registry],
    }),
    framesRead: new Counter({
      name: 'realtime_ws_frames_read_total',
      help: 'WebSocket frames read and handled (each paid one token of its connection’s budget): messages, binary and control frames',
      registers: [registry],
    }),
    readsPaused: new Counter({
      name: 'realtime_ws_reads_paused_total',
      help: 'Times a connection was over its incoming budget and the server stopped reading it until tokens came back',
      registers: [registry],
    }),
    budgetCloses: new Counter({
      name: 'realtime_ws_budget_closes_total',
      help: 'Connections closed with 1008 for staying over their incoming budget for RATE_LIMIT_CLOSE_AFTER_MS',
      registers: [registry],
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
