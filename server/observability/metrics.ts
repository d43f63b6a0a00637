import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type ErrorMetricReason, errorMetricReasons } from '../../shared/errors';
import { eventTypes, type RealtimeEvent } from '../../shared/events';
import { connectionTypes } from '../../shared/paths';
import { PreaggregatedHistogram } from './preaggregatedHistogram';

/** Publish → frame written, resolving 1 ms … 5 s (README "Operating it"). */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;
/** Events per batch a topic hands its subscribers. */
const batchSizeBuckets = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];
/** Event id (stamped by Redis) → received on this node's pub/sub. */
const lagBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The Prometheus metrics of one server. Each server has its own registry, so
 * several servers in one process (tests, embedding) don't collide.
 *
 * The original service's names (`websocket_*`) come first: the platform's dashboards and
 * alerts already use them. Every label value is created at zero up front, so
 * a rate is defined before the first event and an alert on it can fire.
 *
 * What runs per delivered message (`sent`) touches plain numbers only; the
 * counters by type are brought up to date when Prometheus scrapes.
 */
export function createMetrics() {
  const registry = new Registry();
  // Node's own (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, heap, GC, open fds), under their standard names.
  collectDefaultMetrics({ register: registry });

  /** Whether the engine answers, asked when Prometheus scrapes (set by `watchEngine`). */
  let engineState: (() => { kind: string; up: boolean }) | null = null;
  /** Events written to sockets since the last scrape, by type. */
  const unsentCounts = new Map<string, number>();
  /**
   * The batch written last, and how many times in a row (the same array at
   * the same millisecond: a fan-out writing one batch to its subscribers).
   * Counted once when another batch comes or Prometheus reads, so a delivery
   * costs a comparison, not a pass over its events.
   */
  let repeated: { events: readonly RealtimeEvent[]; live: boolean; nowMs: number; times: number } | null = null;
  const countRepeated = () => {
    if (repeated === null) return;
    const { events, live, nowMs, times } = repeated;
    repeated = null;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      unsentCounts.set(event.type, (unsentCounts.get(event.type) ?? 0) + times);
      if (live) latency.observe(Math.max(0, nowMs - event.timestamp.getTime()) / 1000, times);
    }
  };
  const latency = new PreaggregatedHistogram(
    'websocket_message_latency_seconds',
    'Time from an event being published (its id stamped by the engine) to its frame being written to a subscriber, live deliveries only',
    latencyBuckets,
    countRepeated,
  );
  registry.registerMetric(latency.asMetric());
  const batchSize = new PreaggregatedHistogram(
    'realtime_batch_size_events',
    'Events per batch a topic hands its subscribers on this node (one observation per topic flush)',
    batchSizeBuckets,
  );
  registry.registerMetric(batchSize.asMetric());

  /** Labelled children of `published`, one per event type (the contract's types: bounded). */
  const publishedByType = new Map<string, { inc(): void }>();
  const metrics = {
    registry,
    connections: new Gauge({
      name: 'websocket_connections_total',
      help: 'Open WebSocket connections, by connection type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    messagesSent: new Counter({
      name: 'websocket_messages_sent_total',
      help: 'Events written to subscribers’ sockets (live and replayed), by event type',
      labelNames: ['type'] as const,
      registers: [registry],
      collect() {
        countRepeated();
        for (const [type, count] of unsentCounts) this.inc({ type }, count);
        unsentCounts.clear();
      },
    }),
    errors: new Counter({
      name: 'websocket_errors_total',
      help: 'Errors answered to clients and connections closed for a fault, by the contract’s reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    latency,
    subscriptions: new Gauge({ name: 'realtime_subscriptions', help: 'Active subscriptions on this node', registers: [registry] }),
    opened: new Counter({
      name: 'realtime_connections_opened_total',
      help: 'WebSocket connections accepted, by connection type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    closed: new Counter({
      name: 'realtime_connections_closed_total',
      help: 'Closed connections by close code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    published: new Counter({
      name: 'realtime_events_published_total',
      help: 'Events published through this node, by event type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    batchSize,
    slowConsumers: new Counter({
      name: 'realtime_slow_consumers_total',
      help: 'Connections closed as slow consumers (4013)',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'realtime_requests_rate_limited_total',
      help: 'HTTP requests refused by the per-user rate limit',
      registers: [registry],
    }),
    upgradesRefused: new Counter({
      name: 'realtime_upgrades_refused_total',
      help: 'WebSocket upgrades refused before a connection existed, by reason (per-address bounds, origin, full or draining node)',
      labelNames: ['reason'] as const,
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
    engineUp: new Gauge({
      name: 'realtime_engine_up',
      help: '1 while the event engine answers, 0 while it is degraded (Redis unreachable), by engine kind',
      labelNames: ['engine'] as const,
      registers: [registry],
      collect() {
        if (!engineState) return;
        const { kind, up } = engineState();
        this.set({ engine: kind }, up ? 1 : 0);
      },
    }),
    pubsubLag: new Histogram({
      name: 'realtime_engine_pubsub_lag_seconds',
      help: 'Time from an event being stored (Redis stamps its id) to this node receiving it on pub/sub',
      buckets: lagBuckets,
      registers: [registry],
    }),
    draining: new Gauge({
      name: 'realtime_draining',
      help: '1 while this node drains (SIGTERM/SIGINT): not ready, closing clients with 1012',
      registers: [registry],
    }),

    /**
     * Frames of `events` were written to one subscriber's socket at `nowMs`
     * (Date.now()). The latency is observed for live deliveries only: a
     * replay's events were published long ago on purpose.
     */
    sent(events: readonly RealtimeEvent[], live: boolean, nowMs: number) {
      if (repeated !== null && repeated.events === events && repeated.live === live && repeated.nowMs === nowMs) {
        repeated.times++;
        return;
      }
      countRepeated();
      repeated = { events, live, nowMs, times: 1 };
    },

    /** One event published through this node (on the publish path: the labelled counter is looked up once per type). */
    countPublished(type: RealtimeEvent['type']) {
      let counter = publishedByType.get(type);
      if (!counter) {
        counter = metrics.published.labels({ type });
        publishedByType.set(type, counter);
      }
      counter.inc();
    },

    /** The engine whose state `realtime_engine_up` reports. */
    watchEngine(state: () => { kind: string; up: boolean }) {
      engineState = state;
    },

    error(reason: ErrorMetricReason) {
      metrics.errors.inc({ reason });
    },
  };

  for (const type of connectionTypes) {
    metrics.connections.set({ type }, 0);
    metrics.opened.inc({ type }, 0);
  }
  for (const type of eventTypes) {
    metrics.messagesSent.inc({ type }, 0);
    metrics.published.inc({ type }, 0);
  }
  for (const reason of errorMetricReasons) metrics.errors.inc({ reason }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
