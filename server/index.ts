import type { AddressInfo } from 'node:net';
import { limitDefaults } from '../shared/limits';
import { paths } from '../shared/paths';
import { topicKind } from '../shared/topics';
import type { AppServices } from './app';
import { tokenKeys } from './auth/tokenKeys';
import type { EventEngine, Retention } from './bus/engine';
import { EventBus } from './bus/eventBus';
import { createMemoryEngine } from './bus/memoryEngine';
import { createRedisEngine } from './bus/redisEngine';
import { createBuiltinAgent } from './chat/builtinAgent';
import type { ChatAgent } from './chat/chatAgent';
import { createChatService } from './chat/chatService';
import { type Clock, systemClock } from './clock';
import { type RealtimeConfigInput, resolveConfig } from './config';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics } from './observability/metrics';
import { createPublishers } from './publish/publishers';
import { connectRedis } from './redis/connect';
import { createStores } from './stores';
import { ConnectionRegistry } from './transport/connectionRegistry';
import type { DashboardOptions } from './transport/dashboardStatic';
import { createHttpServer } from './transport/httpTransport';
import { attachWsTransport } from './transport/wsTransport';

export { issueToken, type TokenClaims } from './auth/issueToken';
export type { EventEngine } from './bus/engine';
export type { ChatAgent, ChatRequest } from './chat/chatAgent';
export type { InvestigationSnapshot } from './chat/investigationSnapshot';
export type { Clock } from './clock';
export type { RealtimeConfig, RealtimeConfigInput } from './config';
export type { AppRouter } from './routers';
export type { DashboardOptions } from './transport/dashboardStatic';

export interface RealtimeServerOptions extends RealtimeConfigInput {
  /** The assistant behind chat.send; the built-in one answers from live state. */
  chatAgent?: ChatAgent;
  /** Defaults to the in-memory engine (one node). */
  engine?: EventEngine;
  logger?: Logger;
  /**
   * Where the built dashboard is (default client/dashboard/dist) and, in
   * development mode only, the token its sign-in form is pre-filled with.
   * Served only when `serveDashboard` is on.
   */
  dashboard?: DashboardOptions;
  /** The time token checks are judged by (default: the system clock); tests move it forward. */
  clock?: Clock;
}

export interface ListenAddress {
  host: string;
  port: number;
  /** `http://host:port` */
  httpUrl: string;
  /** `ws://host:port/api/v1/ws` */
  wsUrl: string;
}

/**
 * Builds a server: HTTP + WebSocket on one port, the bus, auth and limits, and
 * the in-process publishing functions with the same effect as the mutations.
 */
export function createRealtimeServer(options: RealtimeServerOptions) {
  const config = resolveConfig(options);
  const { limits } = config;
  // Before anything is opened: a JWT_SECRET with too many keys stops the start here (ConfigError).
  const jwtKey = tokenKeys(config.jwtSecret, limits.MAX_TOKEN_LIFETIME_SECONDS);
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const redis = config.redisUrl
    ? connectRedis(config.redisUrl, config.redisKeyPrefix, logger, { timeoutMs: limits.REDIS_TIMEOUT_MS })
    : undefined;
  const engine = options.engine ?? (redis ? createRedisEngine(redis, logger) : createMemoryEngine());
  const startedAt = Date.now();

  const topicRetention: Retention = { maxEvents: limits.HISTORY_SIZE, ttlMs: limits.HISTORY_TTL_SECONDS * 1000 };
  const notificationRetention: Retention = {
    maxEvents: limits.NOTIFICATION_MAX_PER_USER,
    ttlMs: limits.NOTIFICATION_TTL_SECONDS * 1000,
  };
  const bus = new EventBus({
    engine,
    batchWindowMs: limits.BATCH_WINDOW_MS,
    retentionOf: (topic) => (topicKind(topic) === 'notification' ? notificationRetention : topicRetention),
    // A subscriber further behind than a whole history cannot be helped by
    // waiting: it is closed (4013) and resumes from its last id.
    maxQueuedEvents: Math.max(limits.HISTORY_SIZE, limitDefaults.HISTORY_SIZE) * 2,
    onPublished: (event) => metrics.published.inc({ type: event.type }),
  });
  const registry = new ConnectionRegistry();
  const stores = createStores({ limits, redis, logger });
  const { sessions, knownUsers, notificationCursors, connectionCounter, rateLimiter } = stores;
  // Users connected for longer than the notification retention stay known
  // (broadcasts from any node reach them): touched again well before expiry.
  const touchConnected = setInterval(
    () => {
      for (const userId of registry.connectedUsers()) {
        knownUsers.touch(userId).catch((err: unknown) => logger.warn({ event: 'known_user_touch_failed', err }));
      }
    },
    Math.min((limits.NOTIFICATION_TTL_SECONDS * 1000) / 4, 10 * 60_000),
  );
  touchConnected.unref();
  const publishers = createPublishers({ bus, sessions, knownUsers, logger, connectedUsers: () => registry.connectedUsers() });
  const chat = createChatService({ bus, sessions, agent: options.chatAgent ?? createBuiltinAgent(), logger, jwtSecret: config.jwtSecret });

  const app: AppServices = {
    config,
    logger,
    metrics,
    bus,
    sessions,
    chat,
    publishers,
    knownUsers,
    notificationCursors,
    registry,
    rateLimiter,
    connectionCounter,
    jwtKey,
    clock: options.clock ?? systemClock,
    health() {
      const engineHealth = engine.health();
      const stats = registry.stats();
      // A full node (MAX_CONNECTIONS) refuses upgrades with 503: a load balancer should send clients elsewhere.
      const full = limits.MAX_CONNECTIONS > 0 && stats.connections >= limits.MAX_CONNECTIONS;
      const reason = engineHealth.status === 'degraded' ? engineHealth.reason : full ? 'server_full' : undefined;
      return {
        status: reason ? 'degraded' : 'ok',
        ...(reason ? { reason } : {}),
        connections: stats.connections,
        subscriptions: stats.subscriptions,
        uptime: Math.round((Date.now() - startedAt) / 1000),
        engine: engineHealth,
      };
    },
  };

  const httpServer = createHttpServer(app, options.dashboard);
  const ws = attachWsTransport(httpServer, app);
  let closing: Promise<void> | null = null;

  return {
    config,
    ...publishers,

    /** Starts listening; resolves to the bound address (port 0 picks a free one). */
    async listen(): Promise<ListenAddress> {
      if (redis) {
        // A node starts even while Redis is away (degraded: publishes fail with
        // engine_unavailable, health says why) and recovers when it is back.
        await redis.ready().catch((err: unknown) => {
          logger.error({ event: 'redis_unavailable_at_start', message: err instanceof Error ? err.message : String(err) });
        });
      }
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          const { port } = httpServer.address() as AddressInfo;
          const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
          const address = { host, port, httpUrl: `http://${host}:${port}`, wsUrl: `ws://${host}:${port}${paths.ws}` };
          logger.info({ event: 'listening', ...address, engine: engine.kind });
          resolve(address);
        });
      });
    },

    /** Sizes of every map keyed by connection, user, topic or session: all zero once everyone left. */
    stats() {
      return {
        ...registry.stats(),
        bus: bus.stats(),
        engine: engine.stats(),
        chat: { ...sessions.stats(), ...chat.stats() },
        knownUsers: knownUsers.stats().knownUsers,
        // Bounded (count and ttl), not emptied: a cursor outlives the connection.
        notificationCursors: notificationCursors.stats().notificationCursors,
        connectionCounter: connectionCounter.stats(),
      };
    },

    health: () => app.health(),

    /** Flushes pending batches, closes every connection with 1001, and stops. Idempotent. */
    close(): Promise<void> {
      closing ??= (async () => {
        bus.flushAll();
        // One turn for the subscriptions to hand the flushed batches to their sockets.
        await new Promise((resolve) => setImmediate(resolve));
        await chat.close();
        await ws.close();
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeAllConnections();
        });
        clearInterval(touchConnected);
        await stores.close();
        bus.close();
        await engine.close();
        await redis?.close();
        logger.info({ event: 'closed' });
      })();
      return closing;
    },

    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

export type RealtimeServer = ReturnType<typeof createRealtimeServer>;
