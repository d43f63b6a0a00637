import { RedisChatSessionStore } from './chat/redisSessionStore';
import { type ChatSessionStore, MemoryChatSessionStore } from './chat/sessionStore';
import type { RealtimeConfig } from './config';
import { MemoryConnectionCounter, type UserConnectionCounter } from './limits/connectionCounter';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from './limits/messageRateLimiter';
import { RedisConnectionCounter } from './limits/redisConnectionCounter';
import { type KnownUsers, MemoryKnownUsers } from './notifications/knownUsers';
import { RedisKnownUsers } from './notifications/redisKnownUsers';
import type { Logger } from './observability/logger';
import type { RedisClients } from './redis/connect';

/** Users remembered for broadcasts; past this the least recently seen are dropped. */
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
  connectionCounter: UserConnectionCounter;
  rateLimiter: RateLimiter;
  /** Stops the stores' timers; the Redis clients are the caller's to close, after this. */
  close(): Promise<void>;
}

export function createStores({ limits, redis, logger, connectionLease }: StoresOptions): Stores {
  const sessionOptions = {
    maxSessionsPerUser: limits.MAX_CHAT_SESSIONS_PER_USER,
    maxWatchedPerSession: limits.MAX_WATCHED_PER_SESSION,
    idleTtlMs: limits.HISTORY_TTL_SECONDS * 1000,
  };
  const knownUsersOptions = { ttlMs: limits.NOTIFICATION_TTL_SECONDS * 1000, maxUsers: MAX_KNOWN_USERS };
  const rateOptions = { perSecond: limits.RATE_LIMIT_PER_SECOND, burst: limits.RATE_LIMIT_BURST };
  const maxPerUser = limits.MAX_CONNECTIONS_PER_USER;

  const stores = redis
    ? {
        sessions: new RedisChatSessionStore(redis, { ...sessionOptions, logger }),
        knownUsers: new RedisKnownUsers(redis, knownUsersOptions),
        connectionCounter: new RedisConnectionCounter(redis, { maxPerUser, ...connectionLease, logger }),
        rateLimiter: new RedisRateLimiter(redis, rateOptions),
      }
    : {
        sessions: new MemoryChatSessionStore(sessionOptions),
        knownUsers: new MemoryKnownUsers(knownUsersOptions),
        connectionCounter: new MemoryConnectionCounter(maxPerUser),
        rateLimiter: new MemoryRateLimiter(rateOptions),
      };
  return {
    ...stores,
    async close() {
      await Promise.all([stores.sessions.close(), stores.knownUsers.close(), stores.connectionCounter.close(), stores.rateLimiter.close()]);
    },
  };
}
