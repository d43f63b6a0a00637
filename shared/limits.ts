/**
 * The limits of the contract (README "Configuration") with their defaults, keyed by the environment variable
 * that overrides each. The server's config schema reads them from here, so a
 * default lives in exactly one place.
 */
export const limitDefaults = {
  MAX_CONNECTIONS_PER_USER: 10,
  MAX_SUBSCRIPTIONS_PER_CONNECTION: 100,
  MAX_MESSAGE_BYTES: 1024 * 1024,
  RATE_LIMIT_PER_SECOND: 20,
  RATE_LIMIT_BURST: 40,
  PING_INTERVAL_MS: 30_000,
  PEER_TIMEOUT_MS: 60_000,
  BATCH_WINDOW_MS: 100,
  /** The batch window of `chat_token` events (at most BATCH_WINDOW_MS): a streamed reply arrives in small steps, not 100 ms lumps. */
  CHAT_TOKEN_WINDOW_MS: 50,
  SLOW_CONSUMER_BYTES: 4 * 1024 * 1024,
  HISTORY_SIZE: 1_000,
  HISTORY_TTL_SECONDS: 86_400,
  NOTIFICATION_MAX_PER_USER: 1_000,
  NOTIFICATION_TTL_SECONDS: 86_400,
  /** Chat sessions one user may own at once (a session is forgotten 2 × HISTORY_TTL_SECONDS after its last use). */
  MAX_CHAT_SESSIONS_PER_USER: 100,
  /** Investigations one chat session may watch. */
  MAX_WATCHED_PER_SESSION: 50,
  /** Milliseconds a connection may take to present its token (connectionParams) before 4001. */
  AUTH_TIMEOUT_MS: 10_000,
  /** A connection kept over its incoming budget (the server stopped reading it) this long is closed with 1008. */
  RATE_LIMIT_CLOSE_AFTER_MS: 10_000,
  /** Sockets from one client address not yet authenticated; past it the upgrade gets 429. 0: no bound. */
  MAX_PENDING_PER_IP: 100,
  /** WebSocket upgrade attempts per client address per minute; past it 429. 0: no bound. */
  CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: 1_200,
  /** Open WebSocket connections on this node; past it upgrades get 503 and health says so. 0: no bound. */
  MAX_CONNECTIONS: 0,
  /** The longest a token may live: `exp` at most this far past `iat` (or past now without `iat`). */
  MAX_TOKEN_LIFETIME_SECONDS: 86_400,
  /** A Redis that answers no command (a ping) within this is degraded: health 503, publishes fail at once. */
  REDIS_TIMEOUT_MS: 1_000,
  /**
   * Replicas that must have a published event before the publish is acknowledged (Redis WAIT), where the
   * topic's primary has replicas: what lets an acknowledged event survive a failover. 0: do not wait.
   */
  REDIS_WAIT_REPLICAS: 1,
  /** The longest a publish waits for those replicas; past it the publish fails (`engine_unavailable`) and may be retried with its idempotencyKey. */
  REDIS_WAIT_TIMEOUT_MS: 500,
  /** Time a client has to send a whole HTTP request head (the upgrade included). */
  HEADERS_TIMEOUT_MS: 10_000,
  /** How long a publish's `idempotencyKey` is remembered: a retry within it returns the first call's ids. */
  IDEMPOTENCY_TTL_SECONDS: 300,
  /** A node refreshes its presence entries well within this; a node that died has its members leave after it. */
  PRESENCE_TTL_SECONDS: 30,
} as const;

/** The limits where 0 turns the bound off. */
export const limitsOffAtZero = [
  'MAX_PENDING_PER_IP',
  'CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE',
  'MAX_CONNECTIONS',
  'REDIS_WAIT_REPLICAS',
] as const;

export type LimitName = keyof typeof limitDefaults;

/** Bounds of the inputs themselves, enforced by the zod schemas. */
export const inputBounds = {
  chatContentChars: 8_000,
  textChars: 4_000,
  titleChars: 200,
  shortTextChars: 200,
  urlChars: 2_000,
  userIdsPerNotification: 1_000,
  /** Calls in one batched tRPC request (HTTP `?batch=1` or a WebSocket array frame). */
  callsPerBatch: 100,
  /** An `idempotencyKey`'s length. */
  idempotencyKeyChars: 200,
  /** Watchers listed by presence (the count covers them all). */
  presenceListed: 1_000,
} as const;
