import { RedisRevocations } from './auth/redisRevocations';
import { MemoryRevocations, REVOCATION_SKEW_SECONDS, type Revocations } from './auth/revocations';
import { RedisChatSessionStore } from './chat/redisSessionStore';
import { type ChatSessionStore, MemoryChatSessionStore } from './chat/sessionStore';
import type { RealtimeConfig } from './config';
import { MemoryConnectionCounter, type UserConnectionCounter } from './limits/connectionCounter';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from './limits/messageRateLimiter';
import { RedisConnectionCounter } from './limits/redisConnectionCounter';
import { type KnownUsers, MemoryKnownUsers } from './notifications/knownUsers';
import { MemoryNotificationCursors, type NotificationCursors } from './notifications/notificationCursors';
import { RedisKnownUsers } from './notifications/redisKnownUsers';
import { RedisNotificationCursors } from './notifications/redisNotificationCursors';
import type { Logger } from './observability/logger';
import type { RedisClients } from './redis/connect';

/**
 * Users remembered for broadcasts, and notification cursors one process keeps
 * in memory; past this the least recently seen are dropped.
 */
const MAX_KNOWN_USERS = 100_000;

export interface StoresOptions {
  limits: RealtimeConfig['limits'];
  /** Shared state across nodes; in this process's memory when absent. */
  redis?: RedisClients;
  logger: Logger;
  /** Lease of a connection in the Redis count, and how often a node renews its own (defaults 30 s / 10 s). */
  connectionLease?: { leaseMs: number; refreshMs: number };
}

/** The state a node shares with the others when there are several. */
export interface Stores {
  sessions: ChatSessionStore;
  knownUsers: KnownUsers;
  /** The last notification delivered to each user. */
  notificationCursors: NotificationCursors;
  connectionCounter: UserConnectionCounter;
  rateLimiter: RateLimiter;
  /** Operator revocations (admin.revokeAccess, admin.revokeToken), kept as long as a token may live. */
  revocations: Revocations;
  /** Stops the stores' timers; the Redis clients are the caller's to close, after this. */
  close(): Promise<void>;
}

export function createStores({ limits, redis, logger, connectionLease }: StoresOptions): Stores {
  const sessionOptions = {
    maxSessionsPerUser: limits.MAX_CHAT_SESSIONS_PER_USER,
    maxWatchedPerSession: limits.MAX_WATCHED_PER_SESSION,
    historyTtlMs: limits.HISTORY_TTL_SECONDS * 1000,
  };
  // A cursor lives as long as the notifications it points into, for as many users as are known.
  const perUserOptions = { ttlMs: limits.NOTIFICATION_TTL_SECONDS * 1000, maxUsers: MAX_KNOWN_USERS };
  const rateOptions = { perSecond: limits.RATE_LIMIT_PER_SECOND, burst: limits.RATE_LIMIT_BURST };
  const maxPerUser = limits.MAX_CONNECTIONS_PER_USER;
  const revocationOptions = { lifetimeMs: (limits.MAX_TOKEN_LIFETIME_SECONDS + REVOCATION_SKEW_SECONDS) * 1000 };

  const stores = redis
    ? {
        sessions: new RedisChatSessionStore(redis, { ...sessionOptions, logger }),
        knownUsers: new RedisKnownUsers(redis, perUserOptions),
        notificationCursors: new RedisNotificationCursors(redis, perUserOptions),
        connectionCounter: new RedisConnectionCounter(redis, { maxPerUser, ...connectionLease, logger }),
        rateLimiter: new RedisRateLimiter(redis, rateOptions),
        revocations: new RedisRevocations(redis, revocationOptions),
      }
    : {
        sessions: new MemoryChatSessionStore(sessionOptions),
        knownUsers: new MemoryKnownUsers(perUserOptions),
        notificationCursors: new MemoryNotificationCursors(perUserOptions),
        connectionCounter: new MemoryConnectionCounter(maxPerUser),
        rateLimiter: new MemoryRateLimiter(rateOptions),
        revocations: new MemoryRevocations(revocationOptions),
      };
  return {
    ...stores,
    async close() {
      await Promise.all(Object.values(stores).map((store) => store.close()));
    },
  };
}
