import { z } from 'zod';
import { type LimitName, limitDefaults, type limitsOffAtZero } from '../shared/limits';

/**
 * The server's configuration, read from environment variables by `configFromEnv`
 * or passed to `createRealtimeServer` directly. Every default is in
 * `serverDefaults` below or in shared/limits.ts, nowhere else: the environment
 * schema and `resolveConfig` both read them from there.
 */
const serverDefaults = {
  port: 8000,
  host: '0.0.0.0',
  redisKeyPrefix: 'rt:',
  logLevel: 'info' as const,
  /** Off for embedders; `configFromEnv` turns it on outside production. */
  serveDashboard: false,
  perMessageDeflate: false,
  trustProxy: [] as string[],
  allowedOrigins: null as string[] | null,
  /** How long a drain (SIGTERM/SIGINT) may take to close every client, in waves, before the node exits. */
  drainSeconds: 10,
  /** A bearer token /metrics asks for; null: /metrics is open (keep the port private then). */
  metricsToken: null as string | null,
};

const positiveInt = (name: LimitName) => z.coerce.number().int().positive().default(limitDefaults[name]);
/** A bound that 0 turns off (for load generators). */
const boundOrOff = (name: (typeof limitsOffAtZero)[number]) => z.coerce.number().int().nonnegative().default(limitDefaults[name]);
/** A comma-separated list; empty entries dropped. */
const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);
const SECRET_RULE = 'every key must be at least 32 characters (HS256); several keys are comma-separated, the first signs';

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65_535).default(serverDefaults.port),
  HOST: z.string().min(1).default(serverDefaults.host),
  JWT_SECRET: list.refine((keys) => keys.length > 0 && keys.every((key) => key.length >= 32), SECRET_RULE).optional(),
  REDIS_URL: z.url().optional(),
  /** Seed nodes of a Redis Cluster (`host:port,…`); takes the place of REDIS_URL. */
  REDIS_CLUSTER_NODES: list
    .refine((nodes) => nodes.length > 0 && nodes.every((node) => /^[^\s:]+:\d{1,5}$/.test(node)), 'host:port, comma-separated')
    .optional(),
  // No braces: a hash tag in the prefix would put every key in one slot of a Redis Cluster.
  REDIS_KEY_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^{}]*$/, 'no { or }')
    .default(serverDefaults.redisKeyPrefix),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(serverDefaults.logLevel),
  MAX_CONNECTIONS_PER_USER: positiveInt('MAX_CONNECTIONS_PER_USER'),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: positiveInt('MAX_SUBSCRIPTIONS_PER_CONNECTION'),
  MAX_MESSAGE_BYTES: positiveInt('MAX_MESSAGE_BYTES'),
  RATE_LIMIT_PER_SECOND: positiveInt('RATE_LIMIT_PER_SECOND'),
  RATE_LIMIT_BURST: positiveInt('RATE_LIMIT_BURST'),
  PING_INTERVAL_MS: positiveInt('PING_INTERVAL_MS'),
  PEER_TIMEOUT_MS: positiveInt('PEER_TIMEOUT_MS'),
  BATCH_WINDOW_MS: z.coerce.number().int().nonnegative().default(limitDefaults.BATCH_WINDOW_MS),
  CHAT_TOKEN_WINDOW_MS: z.coerce.number().int().nonnegative().default(limitDefaults.CHAT_TOKEN_WINDOW_MS),
  SLOW_CONSUMER_BYTES: positiveInt('SLOW_CONSUMER_BYTES'),
  HISTORY_SIZE: positiveInt('HISTORY_SIZE'),
  HISTORY_TTL_SECONDS: positiveInt('HISTORY_TTL_SECONDS'),
  NOTIFICATION_MAX_PER_USER: positiveInt('NOTIFICATION_MAX_PER_USER'),
  NOTIFICATION_TTL_SECONDS: positiveInt('NOTIFICATION_TTL_SECONDS'),
  MAX_CHAT_SESSIONS_PER_USER: positiveInt('MAX_CHAT_SESSIONS_PER_USER'),
  MAX_WATCHED_PER_SESSION: positiveInt('MAX_WATCHED_PER_SESSION'),
  AUTH_TIMEOUT_MS: positiveInt('AUTH_TIMEOUT_MS'),
  RATE_LIMIT_CLOSE_AFTER_MS: positiveInt('RATE_LIMIT_CLOSE_AFTER_MS'),
  MAX_PENDING_PER_IP: boundOrOff('MAX_PENDING_PER_IP'),
  CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: boundOrOff('CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE'),
  MAX_CONNECTIONS: boundOrOff('MAX_CONNECTIONS'),
  MAX_TOKEN_LIFETIME_SECONDS: positiveInt('MAX_TOKEN_LIFETIME_SECONDS'),
  REDIS_TIMEOUT_MS: positiveInt('REDIS_TIMEOUT_MS'),
  REDIS_WAIT_REPLICAS: boundOrOff('REDIS_WAIT_REPLICAS'),
  REDIS_WAIT_TIMEOUT_MS: positiveInt('REDIS_WAIT_TIMEOUT_MS'),
  HEADERS_TIMEOUT_MS: positiveInt('HEADERS_TIMEOUT_MS'),
  IDEMPOTENCY_TTL_SECONDS: positiveInt('IDEMPOTENCY_TTL_SECONDS'),
  PRESENCE_TTL_SECONDS: positiveInt('PRESENCE_TTL_SECONDS'),
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For is believed; unset: the socket's address is the client's. */
  TRUST_PROXY: list.optional(),
  /** Browser Origins allowed to open a WebSocket; unset: any. A request without Origin (not a browser) is allowed. */
  ALLOWED_ORIGINS: list.optional(),
  /** Seconds a drain may take to close every client with 1012, in waves (default 10). */
  DRAIN_SECONDS: z.coerce.number().positive().max(3600).default(serverDefaults.drainSeconds),
  /** Bearer token that /metrics requires; unset: /metrics is open. */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** Serve the built dashboard at `/`; on by default outside production. */
  SERVE_DASHBOARD: z.enum(['true', 'false', '1', '0']).optional(),
  /** Compress WebSocket messages (permessage-deflate) with clients that offer it; off by default (see README, Performance). */
  WS_PERMESSAGE_DEFLATE: z.enum(['true', 'false', '1', '0']).optional(),
});

type EnvConfig = z.infer<typeof envSchema>;

/** Variables whose value a configuration error names but does not print. */
const secretVariables: ReadonlySet<string> = new Set(['JWT_SECRET', 'METRICS_TOKEN', 'REDIS_URL']);

/** The resolved configuration the server runs with. */
export interface RealtimeConfig {
  port: number;
  host: string;
  /**
   * HS256 key, or several comma-separated (key rotation): the first signs,
   * every one verifies. Each at least 32 characters.
   */
  jwtSecret: string;
  /** Proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client; empty: the socket's address is. */
  trustProxy: string[];
  /** Origins a browser may open a WebSocket from; null: any. */
  allowedOrigins: string[] | null;
  redisUrl?: string;
  /** Seed nodes (`host:port`) of a Redis Cluster: the Redis engine and stores then run on it (sharded pub/sub). */
  redisClusterNodes?: string[];
  /** Prefix of every Redis key and channel. */
  redisKeyPrefix: string;
  logLevel: EnvConfig['LOG_LEVEL'];
  /** Serve the dashboard (dist/dashboard) at `/`. */
  serveDashboard: boolean;
  /**
   * permessage-deflate with clients that offer it. Each message is then
   * compressed per connection (a shared frame cannot be): fewer bytes on the
   * wire for much more CPU per delivered message.
   */
  perMessageDeflate: boolean;
  /** How long a drain may take to close every client (1012, in waves) before the node exits. */
  drainSeconds: number;
  /** The bearer token /metrics asks for; null: open. */
  metricsToken: string | null;
  limits: { [K in LimitName]: number };
}

export type RealtimeConfigInput = Partial<Omit<RealtimeConfig, 'limits'>> & {
  jwtSecret: string;
  limits?: Partial<RealtimeConfig['limits']>;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Fills the defaults in; the one place a partial config becomes a full one. */
export function resolveConfig(input: RealtimeConfigInput): RealtimeConfig {
  if (!jwtKeys(input.jwtSecret).every((key) => key.length >= 32)) throw new ConfigError(`JWT_SECRET: ${SECRET_RULE}`);
  if (input.redisUrl && input.redisClusterNodes?.length) {
    throw new ConfigError('REDIS_URL and REDIS_CLUSTER_NODES: set one of them (one Redis, or the seed nodes of a Redis Cluster)');
  }
  const { limits, jwtSecret, ...rest } = input;
  return { ...serverDefaults, ...withoutUndefined(rest), jwtSecret, limits: { ...limitDefaults, ...withoutUndefined(limits ?? {}) } };
}

/**
 * Reads the environment. A wrong value stops the start with a message naming
 * the variable. Without JWT_SECRET outside production it returns `devMode: true`
 * and a generated secret; in production a missing secret is an error.
 */
export function configFromEnv(
  env: NodeJS.ProcessEnv,
  generateSecret: () => string,
): {
  config: RealtimeConfig;
  devMode: boolean;
} {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.');
      // A secret is never echoed back: a short JWT_SECRET or a password in REDIS_URL would land in a log.
      const got = secretVariables.has(name) ? '[hidden]' : JSON.stringify(env[name]);
      return `  ${name}: ${issue.message} (got ${got})`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (!e.JWT_SECRET && production) {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production (at least 32 characters)');
  }
  const limits = Object.fromEntries((Object.keys(limitDefaults) as LimitName[]).map((name) => [name, e[name]])) as RealtimeConfig['limits'];
  return {
    devMode: !e.JWT_SECRET,
    config: {
      port: e.PORT,
      host: e.HOST,
      jwtSecret: e.JWT_SECRET?.join(',') ?? generateSecret(),
      trustProxy: e.TRUST_PROXY ?? serverDefaults.trustProxy,
      allowedOrigins: e.ALLOWED_ORIGINS ?? serverDefaults.allowedOrigins,
      redisUrl: e.REDIS_URL,
      redisClusterNodes: e.REDIS_CLUSTER_NODES,
      redisKeyPrefix: e.REDIS_KEY_PREFIX,
      logLevel: e.LOG_LEVEL,
      serveDashboard: e.SERVE_DASHBOARD === undefined ? !production : flag(e.SERVE_DASHBOARD),
      perMessageDeflate: e.WS_PERMESSAGE_DEFLATE === undefined ? serverDefaults.perMessageDeflate : flag(e.WS_PERMESSAGE_DEFLATE),
      drainSeconds: e.DRAIN_SECONDS,
      metricsToken: e.METRICS_TOKEN ?? serverDefaults.metricsToken,
      limits,
    },
  };
}

const flag = (value: 'true' | 'false' | '1' | '0') => value === 'true' || value === '1';

/** An explicit `undefined` in the caller's options means "the default", as an absent key does. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The keys of `jwtSecret`: the first signs, every one verifies. */
export function jwtKeys(jwtSecret: string): string[] {
  return jwtSecret
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
}
