import type { AddressInfo } from 'node:net';
import { limitDefaults } from '../shared/limits';
import { paths } from '../shared/paths';
import { topicKind } from '../shared/topics';
import { createAdminService } from './admin/adminService';
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
import { createMemoryControlChannel, createRedisControlChannel } from './cluster/controlChannel';
import { type RealtimeConfigInput, resolveConfig } from './config';
import { createErrorReporter } from './observability/errorReporter';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics } from './observability/metrics';
import { createPresenceService } from './presence/presenceService';
import { createPublishers } from './publish/publishers';
import { connectRedis, type RedisTarget } from './redis/connect';
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
   * Where the built dashboard is (default dist/dashboard) and, in
   * development mode only, the token its sign-in form is pre-filled with.
   * Served only when `serveDashboard` is on.
   */
  dashboard?: DashboardOptions;
  /** The time token checks are judged by (default: the system clock); tests move it forward. */
  clock?: Clock;
}

export interface ListenAddress {
  /** Where to connect: the bound host, or loopback when bound to every interface. */
  host: string;
  port: number;
  /** The socket's own address, `0.0.0.0:8000` or `[::]:8000`. */
  bound: string;
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
  const redisTarget: RedisTarget | undefined = config.redisClusterNodes?.length
    ? { clusterNodes: config.redisClusterNodes }
    : config.redisUrl
      ? { url: config.redisUrl }
      : undefined;
  const redis = redisTarget
    ? connectRedis(redisTarget, config.redisKeyPrefix, logger, {
        timeoutMs: limits.REDIS_TIMEOUT_MS,
        waitReplicas: limits.REDIS_WAIT_REPLICAS,
        waitTimeoutMs: limits.REDIS_WAIT_TIMEOUT_MS,
      })
    : undefined;
  const engine =
    options.engine ??
    (redis ? createRedisEngine(redis, logger, (ms) => metrics.pubsubLag.observe(Math.max(0, ms) / 1000)) : createMemoryEngine());
  // Read when Prometheus scrapes: the engine says whether it answers.
  metrics.watchEngine(() => ({ kind: engine.kind, up: engine.health().status === 'ok' }));
  let draining = false;
  const startedAt = Date.now();

  const topicRetention: Retention = { maxEvents: limits.HISTORY_SIZE, ttlMs: limits.HISTORY_TTL_SECONDS * 1000 };
  const notificationRetention: Retention = {
    maxEvents: limits.NOTIFICATION_MAX_PER_USER,
    ttlMs: limits.NOTIFICATION_TTL_SECONDS * 1000,
  };
  const bus = new EventBus({
    engine,
    batchWindowMs: limits.BATCH_WINDOW_MS,
    tokenWindowMs: limits.CHAT_TOKEN_WINDOW_MS,
    retentionOf: (topic) => (topicKind(topic) === 'notification' ? notificationRetention : topicRetention),
    // A subscriber further behind than a whole history cannot be helped by
    // waiting: it is closed (4013) and resumes from its last id.
    maxQueuedEvents: Math.max(limits.HISTORY_SIZE, limitDefaults.HISTORY_SIZE) * 2,
    onPublished: (event) => metrics.countPublished(event.type),
    onBatch: (size) => metrics.batchSize.observe(size),
  });
  const registry = new ConnectionRegistry();
  const control = redis ? createRedisControlChannel(redis, logger) : createMemoryControlChannel(logger);
  const presence = createPresenceService({ control, logger, redis, ttlMs: limits.PRESENCE_TTL_SECONDS * 1000 });
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
  const publishers = createPublishers({
    bus,
    sessions,
    knownUsers,
    logger,
    connectedUsers: () => registry.connectedUsers(),
    idempotencyTtlMs: limits.IDEMPOTENCY_TTL_SECONDS * 1000,
  });
  const chat = createChatService({ bus, sessions, agent: options.chatAgent ?? createBuiltinAgent(), logger, jwtSecret: config.jwtSecret });
  const admin = createAdminService({
    ...stores,
    control,
    registry,
    bus,
    presence,
    logger,
    clock: options.clock ?? systemClock,
    maxTokenLifetimeSeconds: limits.MAX_TOKEN_LIFETIME_SECONDS,
  });

  const app: AppServices = {
    config,
    logger,
    metrics,
    reportError: createErrorReporter(logger, metrics),
    bus,
    control,
    presence,
    admin,
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
      const degradedBy = engineHealth.status === 'degraded' ? engineHealth.reason : full ? 'server_full' : undefined;
      const reason = draining ? 'shutting_down' : degradedBy;
      return {
        status: draining ? 'draining' : reason ? 'degraded' : 'healthy',
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

  /** Closes whatever connections remain (1001), then HTTP, the stores, the engine and Redis. */
  async function shutdown() {
    await chat.close();
    await Promise.all([ws.close(), httpServer.sse.close()]);
    await new Promise<void>((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeAllConnections();
    });
    clearInterval(touchConnected);
    await presence.close();
    admin.close();
    await control.close();
    await stores.close();
    bus.close();
    await engine.close();
    await redis?.close();
    logger.info({ event: 'closed' });
  }

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
          const bound = httpServer.address() as AddressInfo;
          const { port } = bound;
          // Bound to every interface: this machine reaches it on loopback.
          const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
          const address: ListenAddress = {
            host,
            port,
            bound: bound.family === 'IPv6' ? `[${bound.address}]:${port}` : `${bound.address}:${port}`,
            httpUrl: `http://${host}:${port}`,
            wsUrl: `ws://${host}:${port}${paths.ws}`,
          };
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
        presence: presence.stats(),
        // Bounded by count and ttl (a token's longest life), not emptied.
        revocations: { ...stores.revocations.stats(), ...admin.stats() },
      };
    },

    health: () => app.health(),

    /**
     * The drain of SIGTERM/SIGINT: readiness and health turn 503 (draining),
     * upgrades are refused, pending batches are flushed, every client is
     * closed with 1012 in waves within `drainSeconds` (each resumes on
     * another node), then everything is closed, Redis last. Idempotent; a
     * `close` afterwards waits for it.
     */
    drain(): Promise<void> {
      if (closing) return closing;
      draining = true;
      metrics.draining.set(1);
      const connections = registry.connections.size;
      logger.info({ event: 'drain_started', connections, drainSeconds: config.drainSeconds });
      ws.stopAccepting();
      httpServer.sse.stopAccepting();
      closing = (async () => {
        bus.flushAll();
        // One turn for the subscriptions to hand the flushed batches to their sockets.
        await new Promise((resolve) => setImmediate(resolve));
        logger.info({ event: 'drain_flushed' });
        await Promise.all([ws.drain(config.drainSeconds * 1000), httpServer.sse.drain(config.drainSeconds * 1000)]);
        logger.info({ event: 'drain_clients_closed', connections });
        await shutdown();
      })();
      return closing;
    },

    /** Flushes pending batches, closes every connection with 1001, and stops. Idempotent. */
    close(): Promise<void> {
      closing ??= (async () => {
        bus.flushAll();
        // One turn for the subscriptions to hand the flushed batches to their sockets.
        await new Promise((resolve) => setImmediate(resolve));
        await shutdown();
      })();
      return closing;
    },

    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

export type RealtimeServer = ReturnType<typeof createRealtimeServer>;
