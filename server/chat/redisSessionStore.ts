/**
 * Chat sessions in Redis, shared by every node. Keys (P = the deployment's
 * prefix; ttl = the history ttl of the session topics):
 *
 *   P chat:owner:<sessionId>        string: the owner's user id; PX 2 × ttl, renewed on every use (and
 *                                   periodically while the owner is subscribed)
 *   P chat:watched:<sessionId>      set: the investigations the session watches; expires with the owner key
 *   P chat:sessions-of:<userId>     sorted set: the user's sessions, scored by their expiry (ms, Redis clock),
 *                                   so the per-user bound counts live sessions only
 *   P chat:watchers:<investigationId>  sorted set: the sessions watching it, scored by last use + ttl (a
 *                                   session stops getting copies one ttl before its owner key expires, so
 *                                   the last copy leaves the history first); members past their score are
 *                                   dropped on read, and the key expires with its last session
 *
 * Claiming is one Lua script (read owner, check the bound, SET), so two nodes
 * cannot both claim a session. Times come from Redis's clock (TIME), never a
 * node's. The scripts build the keys of other users and investigations from
 * the prefix they are given: one Redis (or a primary with replicas), not a
 * Redis Cluster.
 */

import { ApiError, apiError } from '../errors';
import type { Logger } from '../observability/logger';
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaExtendTtl, luaNowMs } from '../redis/luaCommand';
import {
  type ChatSessionStats,
  type ChatSessionStore,
  type ChatSessionStoreOptions,
  renewalInterval,
  type SessionAccess,
} from './sessionStore';

/** KEYS: owner, watched, sessions-of(user). ARGV: sessionId, userId, allowForeign (1|0), ttlMs, maxSessions, prefix. */
const useScript = luaCommand(
  'rtChatSessionUse',
  `${luaNowMs}${luaExtendTtl}
local owner_key, watched_key, mine_key = KEYS[1], KEYS[2], KEYS[3]
local sid, uid, foreign = ARGV[1], ARGV[2], ARGV[3] == '1'
local ttl, max, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local owned_for = ttl * 2
local now = now_ms()
local owner = redis.call('GET', owner_key)
if owner then
  if owner ~= uid and not foreign then return 'session_owned_by_other' end
  redis.call('PEXPIRE', owner_key, owned_for)
  redis.call('PEXPIRE', watched_key, owned_for)
  local owned = prefix .. 'chat:sessions-of:' .. owner
  redis.call('ZADD', owned, now + owned_for, sid)
  extend(owned, owned_for)
  for _, investigation in ipairs(redis.call('SMEMBERS', watched_key)) do
    local watchers = prefix .. 'chat:watchers:' .. investigation
    redis.call('ZADD', watchers, now + ttl, sid)
    extend(watchers, ttl)
  end
  if owner == uid then return 'owner' end
  return 'reader'
end
redis.call('ZREMRANGEBYSCORE', mine_key, '-inf', now)
if redis.call('ZCARD', mine_key) >= max then return 'too_many_sessions' end
redis.call('SET', owner_key, uid, 'PX', owned_for)
redis.call('DEL', watched_key)
redis.call('ZADD', mine_key, now + owned_for, sid)
extend(mine_key, owned_for)
return 'owner'
`,
);

/** KEYS: owner, watched. ARGV: sessionId, investigationId, maxWatched, prefix, ttlMs. */
const watchScript = luaCommand(
  'rtChatSessionWatch',
  `${luaNowMs}${luaExtendTtl}
local owner_key, watched_key = KEYS[1], KEYS[2]
local sid, investigation, max, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local left = redis.call('PTTL', owner_key)
if left < 0 then return 'unclaimed' end
if redis.call('SISMEMBER', watched_key, investigation) == 1 then return 'ok' end
if redis.call('SCARD', watched_key) >= max then return 'too_many_watched' end
redis.call('SADD', watched_key, investigation)
redis.call('PEXPIRE', watched_key, left)
-- Watching ends one ttl before ownership (see the keys above).
local watching = math.min(tonumber(ARGV[5]), left)
local watchers = prefix .. 'chat:watchers:' .. investigation
redis.call('ZADD', watchers, now_ms() + watching, sid)
extend(watchers, watching)
return 'ok'
`,
);

/** KEYS: watchers. Drops the sessions past their expiry, returns the others. */
const watchersScript = luaCommand(
  'rtChatSessionWatchers',
  `${luaNowMs}
-- Exclusive, as Redis's own key expiry is: a member lives through its last
-- millisecond exactly as the session's keys do.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_ms())
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
);

/**
 * KEYS: sessions-of(user). ARGV: userId, prefix. Deletes every session the
 * user owns (owner and watched keys, its entries in the investigations'
 * watchers), then the user's set; returns the ids deleted.
 */
const eraseUserScript = luaCommand(
  'rtChatSessionEraseUser',
  `
local mine_key, uid, prefix = KEYS[1], ARGV[1], ARGV[2]
local erased = {}
for _, sid in ipairs(redis.call('ZRANGE', mine_key, 0, -1)) do
  local owner_key = prefix .. 'chat:owner:' .. sid
  if redis.call('GET', owner_key) == uid then
    local watched_key = prefix .. 'chat:watched:' .. sid
    for _, investigation in ipairs(redis.call('SMEMBERS', watched_key)) do
      redis.call('ZREM', prefix .. 'chat:watchers:' .. investigation, sid)
    end
    redis.call('DEL', owner_key, watched_key)
    erased[#erased + 1] = sid
  end
end
redis.call('DEL', mine_key)
return erased
`,
);

export class RedisChatSessionStore implements ChatSessionStore {
  private readonly prefix: string;
  readonly renewEveryMs: number;

  constructor(
    private readonly redis: RedisClients,
    private readonly opts: ChatSessionStoreOptions & { logger: Logger },
  ) {
    this.prefix = redis.prefix;
    this.renewEveryMs = renewalInterval(opts.historyTtlMs);
  }

  private key(kind: 'owner' | 'watched' | 'sessions-of' | 'watchers', id: string) {
    return `${this.prefix}chat:${kind}:${id}`;
  }

  /** A Redis failure becomes `store_unavailable` (SERVICE_UNAVAILABLE), never an internal error. */
  private async call<T>(what: string, run: () => Promise<unknown>): Promise<T> {
    try {
      return (await run()) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.opts.logger.warn({ event: 'chat_store_unavailable', op: what, message: (err as Error).message });
      throw apiError('store_unavailable');
    }
  }

  async use(sessionId: string, userId: string, allowForeign = false): Promise<SessionAccess> {
    const result = await this.call<SessionAccess | 'session_owned_by_other' | 'too_many_sessions'>('use', () =>
      useScript.run(
        this.redis.command,
        [this.key('owner', sessionId), this.key('watched', sessionId), this.key('sessions-of', userId)],
        [sessionId, userId, allowForeign ? 1 : 0, this.opts.historyTtlMs, this.opts.maxSessionsPerUser, this.prefix],
      ),
    );
    if (result === 'session_owned_by_other' || result === 'too_many_sessions') throw apiError(result);
    return result;
  }

  async watch(sessionId: string, investigationId: string): Promise<void> {
    const result = await this.call<string>('watch', () =>
      watchScript.run(
        this.redis.command,
        [this.key('owner', sessionId), this.key('watched', sessionId)],
        [sessionId, investigationId, this.opts.maxWatchedPerSession, this.prefix, this.opts.historyTtlMs],
      ),
    );
    if (result === 'too_many_watched') throw apiError(result);
    if (result === 'unclaimed') throw new Error(`watch on an unclaimed session ${sessionId}`);
  }

  watchersOf(investigationId: string): Promise<string[]> {
    return this.call('watchersOf', () => watchersScript.run(this.redis.command, [this.key('watchers', investigationId)], []));
  }

  watchedBy(sessionId: string): Promise<string[]> {
    return this.call('watchedBy', () => this.redis.command.smembers(this.key('watched', sessionId)));
  }

  eraseUser(userId: string): Promise<string[]> {
    return this.call('eraseUser', () => eraseUserScript.run(this.redis.command, [this.key('sessions-of', userId)], [userId, this.prefix]));
  }

  /** Nothing is held in this process. */
  stats(): ChatSessionStats {
    return { chatSessions: 0, chatOwners: 0, watchedInvestigations: 0 };
  }

  /** The Redis clients belong to the server, which closes them. */
  async close(): Promise<void> {}
}
