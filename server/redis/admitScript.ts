import { luaCommand, luaExtendTtl, luaNowMs } from './luaCommand';

/**
 * A bounded set of leases (a user's connections, a user's chat sessions): a
 * sorted set scored by each member's expiry on Redis's clock. KEYS: the set.
 * ARGV: member, max, forMs. Drops the expired members, then counts the member
 * for `forMs` more unless the set is at its bound (a member already in it is
 * renewed). 1 when counted, 0 at the bound. One script, so two nodes cannot
 * both take the last place.
 */
export const admitScript = luaCommand(
  'rtAdmit',
  `${luaNowMs}${luaExtendTtl}
local key, member, max, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if not redis.call('ZSCORE', key, member) and redis.call('ZCARD', key) >= max then return 0 end
redis.call('ZADD', key, now + ttl, member)
extend(key, ttl)
return 1
`,
);
