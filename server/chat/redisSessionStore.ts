/**
 * Chat sessions in Redis, shared by every node, on one Redis or a Redis
 * Cluster. Keys (P = the deployment's prefix; ttl = the history ttl of the
 * session topics; the part in braces is the hash tag, which decides the slot):
 *
 *   P{chat:s:<sessionId>}:owner     string: the owner's user id; PX 2 × ttl, renewed on every use (and
 *                                   periodically while the owner is subscribed)
 *   P{chat:s:<sessionId>}:watched   set: the investigations the session watches; expires with the owner key
 *   P{u:<userId>}:chat-sessions     sorted set: the user's sessions, scored by their expiry (ms), so the
 *                                   per-user bound counts live sessions only
 *   P{chat:i:<investigationId>}:watchers  sorted set: the sessions watching it, scored by last use + ttl (a
 *                                   session stops getting copies one ttl before its owner key expires, so
 *                                   the last copy leaves the history first); members past their score are
 *                                   dropped on read, and the key expires with its last session
 *
 * A session's two keys share a slot, so checking and claiming it is one
 * script: two nodes cannot both claim a session. A user's set and each
 * investigation's set live in slots of their own, and on a Redis Cluster a
 * script may touch one slot only; so a step spanning them is several scripts,
 * each atomic in its slot:
 *
 *   - a claim reserves a place in the user's set first (the bound is checked
 *     there, atomically), then claims in the session's slot, and gives the
 *     place back if another user got the session in between: the bound is
 *     never exceeded (a place is held a moment too long at worst);
 *   - a use renews the session in its slot, then (in parallel) its entry in
 *     its owner's set and in each watched investigation's set;
 *   - erasing a user lists their set, erases each session they still own in
 *     its slot, then takes the sessions out of the investigations' sets and
 *     the user's set.
 *
 * Times come from Redis's clock (TIME), never a node's; each sorted set is
 * scored and pruned by the clock of the Redis that holds it.
 */

import { ApiError, apiError } from '../errors';
import type { Logger } from '../observability/logger';
import { admitScript } from '../redis/admitScript';
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaExtendTtl, luaNowMs } from '../redis/luaCommand';
import {
  type ChatSessionStats,
  type ChatSessionStore,
  type ChatSessionStoreOptions,
  renewalInterval,
  type SessionAccess,
} from './sessionStore';

/**
 * KEYS: owner, watched (the session's slot). ARGV: userId, allowForeign (1|0), ownedForMs, claim (1|0).
 * An owned session is checked and renewed: { 'owner' | 'reader', owner, ...watched }, or
 * { 'session_owned_by_other', owner }. An unowned one is claimed when `claim` is 1 ({ 'claimed' }),
 * otherwise left alone ({ 'unclaimed' }).
 */
const sessionScript = luaCommand(
  'rtChatSessionUse',
  `
local owner_key, watched_key = KEYS[1], KEYS[2]
local uid, foreign, owned_for, claim = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3]), ARGV[4] == '1'
local owner = redis.call('GET', owner_key)
if not owner then
  if not claim then return {'unclaimed'} end
  redis.call('SET', owner_key, uid, 'PX', owned_for)
  redis.call('DEL', watched_key)
  return {'claimed'}
end
if owner ~= uid and not foreign then return {'session_owned_by_other', owner} end
redis.call('PEXPIRE', owner_key, owned_for)
redis.call('PEXPIRE', watched_key, owned_for)
local out = {'reader', owner}
if owner == uid then out[1] = 'owner' end
for _, investigation in ipairs(redis.call('SMEMBERS', watched_key)) do out[#out + 1] = investigation end
return out
`,
);

/** KEYS: a sorted set (a user's sessions, an investigation's watchers). ARGV: sessionId, forMs. Scores it now + forMs. */
const scoreScript = luaCommand(
  'rtChatSessionScore',
  `${luaNowMs}${luaExtendTtl}
local ms = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now_ms() + ms, ARGV[1])
extend(KEYS[1], ms)
return 1
`,
);

/**
 * KEYS: owner, watched (the session's slot). ARGV: investigationId, maxWatched. Adds the
 * investigation to a claimed session: 'unclaimed', 'too_many_watched', 'ok' when it
 * was already watched, or the ms the owner key has left (its watchers entry is the caller's).
 */
const watchScript = luaCommand(
  'rtChatSessionWatch',
  `
local owner_key, watched_key = KEYS[1], KEYS[2]
local investigation, max = ARGV[1], tonumber(ARGV[2])
local left = redis.call('PTTL', owner_key)
if left < 0 then return 'unclaimed' end
if redis.call('SISMEMBER', watched_key, investigation) == 1 then return 'ok' end
if redis.call('SCARD', watched_key) >= max then return 'too_many_watched' end
redis.call('SADD', watched_key, investigation)
redis.call('PEXPIRE', watched_key, left)
return left
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
 * KEYS: owner, watched (the session's slot). ARGV: userId. Deletes the session if
 * the user owns it: { 'erased', ...watched }; otherwise {}.
 */
const eraseSessionScript = luaCommand(
  'rtChatSessionErase',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
local out = {'erased'}
for _, investigation in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = investigation end
redis.call('DEL', KEYS[1], KEYS[2])
return out
`,
);

/** The keys of a session (one slot), of a user's sessions, and of an investigation's watchers. */
export function chatSessionKeys(prefix: string) {
  return {
    owner: (sessionId: string) => `${prefix}{chat:s:${sessionId}}:owner`,
    watched: (sessionId: string) => `${prefix}{chat:s:${sessionId}}:watched`,
    sessionsOf: (userId: string) => `${prefix}{u:${userId}}:chat-sessions`,
    watchers: (investigationId: string) => `${prefix}{chat:i:${investigationId}}:watchers`,
  };
}

export class RedisChatSessionStore implements ChatSessionStore {
  private readonly keys: ReturnType<typeof chatSessionKeys>;
  readonly renewEveryMs: number;

  constructor(
    private readonly redis: RedisClients,
    private readonly opts: ChatSessionStoreOptions & { logger: Logger },
  ) {
    this.keys = chatSessionKeys(redis.prefix);
    this.renewEveryMs = renewalInterval(opts.historyTtlMs);
  }

  /** How long a session stays its owner's after its last use. */
  private get ownedForMs() {
    return 2 * this.opts.historyTtlMs;
  }

  /** A Redis failure becomes `store_unavailable` (SERVICE_UNAVAILABLE), never an internal error. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.opts.logger.warn({ event: 'chat_store_unavailable', op: what, message: (err as Error).message });
      throw apiError('store_unavailable');
    }
  }

  private async sessionStep(sessionId: string, userId: string, allowForeign: boolean, claim: boolean) {
    const [outcome, owner, ...watched] = (await sessionScript.run(
      this.redis.command,
      [this.keys.owner(sessionId), this.keys.watched(sessionId)],
      [userId, allowForeign ? 1 : 0, this.ownedForMs, claim ? 1 : 0],
    )) as [string, string?, ...string[]];
    return { outcome, owner, watched };
  }

  private score(key: string, sessionId: string, forMs: number) {
    return scoreScript.run(this.redis.command, [key], [sessionId, forMs]);
  }

  /** A renewed session's entries in its owner's set and its investigations' sets: other slots, in parallel. */
  private async renewEntries(sessionId: string, owner: string, watched: readonly string[]) {
    await Promise.all([
      this.score(this.keys.sessionsOf(owner), sessionId, this.ownedForMs),
      ...watched.map((investigation) => this.score(this.keys.watchers(investigation), sessionId, this.opts.historyTtlMs)),
    ]);
  }

  /**
   * Reserves a place in the user's set (where the bound is checked), then claims.
   * A place is given back only when the session turned out to be another user's:
   * if the claim fails on a Redis error it may still have run, and a place held
   * until it expires is safer than a bound exceeded.
   */
  private async claim(sessionId: string, userId: string, allowForeign: boolean) {
    const mine = this.keys.sessionsOf(userId);
    const reserved = await admitScript.run(this.redis.command, [mine], [sessionId, this.opts.maxSessionsPerUser, this.ownedForMs]);
    if (reserved !== 1) throw apiError('too_many_sessions');
    const step = await this.sessionStep(sessionId, userId, allowForeign, true);
    if (step.outcome !== 'claimed' && step.owner !== userId) await this.redis.command.zrem(mine, sessionId);
    return step;
  }

  use(sessionId: string, userId: string, allowForeign = false): Promise<SessionAccess> {
    return this.call('use', async () => {
      let step = await this.sessionStep(sessionId, userId, allowForeign, false);
      if (step.outcome === 'unclaimed') step = await this.claim(sessionId, userId, allowForeign);
      if (step.outcome === 'claimed') return 'owner';
      if (step.outcome === 'session_owned_by_other') throw apiError('session_owned_by_other');
      await this.renewEntries(sessionId, step.owner!, step.watched);
      return step.outcome as SessionAccess;
    });
  }

  async watch(sessionId: string, investigationId: string): Promise<void> {
    const result = await this.call('watch', async () => {
      const left = await watchScript.run(
        this.redis.command,
        [this.keys.owner(sessionId), this.keys.watched(sessionId)],
        [investigationId, this.opts.maxWatchedPerSession],
      );
      if (typeof left !== 'number') return left as string;
      // Watching ends one ttl before ownership (see the keys above).
      await this.score(this.keys.watchers(investigationId), sessionId, Math.min(this.opts.historyTtlMs, left));
      return 'ok';
    });
    if (result === 'too_many_watched') throw apiError(result);
    if (result === 'unclaimed') throw new Error(`watch on an unclaimed session ${sessionId}`);
  }

  watchersOf(investigationId: string): Promise<string[]> {
    return this.call(
      'watchersOf',
      async () => (await watchersScript.run(this.redis.command, [this.keys.watchers(investigationId)], [])) as string[],
    );
  }

  watchedBy(sessionId: string): Promise<string[]> {
    return this.call('watchedBy', () => this.redis.command.smembers(this.keys.watched(sessionId)));
  }

  /**
   * Each session is erased in its own slot, only if the user still owns it;
   * the user's set goes last (member by member, so a session claimed meanwhile
   * keeps its place), and a failure part way leaves it for a retry to find.
   */
  eraseUser(userId: string): Promise<string[]> {
    return this.call('eraseUser', async () => {
      const mine = this.keys.sessionsOf(userId);
      const listed = await this.redis.command.zrange(mine, '0', '-1');
      const results = await Promise.all(
        listed.map(async (sessionId) => {
          const [erased, ...watched] = (await eraseSessionScript.run(
            this.redis.command,
            [this.keys.owner(sessionId), this.keys.watched(sessionId)],
            [userId],
          )) as string[];
          return { sessionId, erased: erased === 'erased', watched };
        }),
      );
      const erased = results.filter((r) => r.erased);
      await Promise.all(
        erased.flatMap(({ sessionId, watched }) =>
          watched.map((investigation) => this.redis.command.zrem(this.keys.watchers(investigation), sessionId)),
        ),
      );
      if (listed.length > 0) await this.redis.command.zrem(mine, ...listed);
      return erased.map((r) => r.sessionId);
    });
  }

  /** Nothing is held in this process. */
  stats(): ChatSessionStats {
    return { chatSessions: 0, chatOwners: 0, watchedInvestigations: 0 };
  }

  /** The Redis clients belong to the server, which closes them. */
  async close(): Promise<void> {}
}
