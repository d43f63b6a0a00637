/**
 * The limits of DESIGN.md with their defaults, keyed by the environment variable
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
  SLOW_CONSUMER_BYTES: 4 * 1024 * 1024,
  HISTORY_SIZE: 1_000,
  HISTORY_TTL_SECONDS: 86_400,
  NOTIFICATION_MAX_PER_USER: 1_000,
  NOTIFICATION_TTL_SECONDS: 86_400,
  /** Chat sessions one user may own at once (oldest idle ones expire with HISTORY_TTL_SECONDS). */
  MAX_CHAT_SESSIONS_PER_USER: 100,
  /** Investigations one chat session may watch. */
  MAX_WATCHED_PER_SESSION: 50,
  /** Milliseconds a connection may take to present its token (connectionParams) before 4001. */
  AUTH_TIMEOUT_MS: 10_000,
} as const;

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
} as const;
