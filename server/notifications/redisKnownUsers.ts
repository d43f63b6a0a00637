/**
 * Known users in Redis, shared by every node. One key (P = the deployment's prefix):
 *
 *   P users:known   sorted set: user id scored by last-seen time (ms, Redis clock; a
 *                   touch within the newest one's millisecond scores a microsecond after it).
 *                   Each touch drops members older than the ttl and the least
 *                   recently seen past `maxUsers`; the key expires a ttl after the last touch.
 */
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaNowMs } from '../redis/luaCommand';
import type { KnownUsers, KnownUsersOptions } from './knownUsers';

/** KEYS: the set. ARGV: userId, ttlMs, maxUsers. */
const touchScript = luaCommand(
  'rtKnownUsersTouch',
  `${luaNowMs}
local key, ttl, max = KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
-- Strictly after the newest, so touches within one millisecond keep their order.
local score = now
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= now then score = tonumber(newest[2]) + 0.001 end
redis.call('ZADD', key, score, ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
local size = redis.call('ZCARD', key)
if size > max then redis.call('ZREMRANGEBYRANK', key, 0, size - max - 1) end
redis.call('PEXPIRE', key, ttl)
`,
);

/** KEYS: the set. ARGV: ttlMs. */
const listScript = luaCommand(
  'rtKnownUsersList',
  `${luaNowMs}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now_ms() - tonumber(ARGV[1])), '+inf')
`,
);

export class RedisKnownUsers implements KnownUsers {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClients,
    private readonly opts: KnownUsersOptions,
  ) {
    this.key = `${redis.prefix}users:known`;
  }

  async touch(userId: string): Promise<void> {
    await touchScript.run(this.redis.command, [this.key], [userId, this.opts.ttlMs, this.opts.maxUsers]);
  }

  async list(): Promise<string[]> {
    return (await listScript.run(this.redis.command, [this.key], [this.opts.ttlMs])) as string[];
  }

  erase(userId: string): Promise<number> {
    return this.redis.command.zrem(this.key, userId);
  }

  /** Nothing is held in this process. */
  stats() {
    return { knownUsers: 0 };
  }

  async close(): Promise<void> {}
}
