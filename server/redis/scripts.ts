/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, so an
 * event's id, its place in the stream, its trimming and its fan-out to every
 * node happen in one step (Centrifugo's design: XADD + PUBLISH in one script).
 *
 * Keys of a topic T (under the deployment's prefix P) share T's hash tag, so
 * on a Redis Cluster they live in one slot and every script below runs there
 * (server/redis/topicKeys.ts builds them):
 *   P{t:T}:s  the stream: one entry per event, field `e` = JSON {type, data}
 *   P{t:T}:m  a hash: origin (first id ever), head (newest id), trimmed (newest
 *             trimmed id), ttl (ms) -- Redis does not record trimmed ids itself --
 *             and epoch: set when the hash is created, so a history that was
 *             lost (a Redis restarted empty, a forgotten topic) starts a new one
 * Channel P{t:T}:c carries `<id> <json>` for every event, to the nodes with
 * subscribers of T: PUBLISH on one Redis, SPUBLISH (sharded pub/sub, in the
 * topic's slot) on a cluster. Both keys expire after twice the ttl (at least
 * ttl + 1 min) without a publish: then the topic is forgotten and every old id
 * resyncs.
 *
 * Idempotency records of T, in the same slot:
 *   P{t:T}:idem:K  `<fingerprint> <id>` of the publish claimed under K (a
 *                  hash of publisher, procedure and idempotencyKey), PX its ttl
 *   P{t:T}:idem    a sorted set of those keys by expiry (Redis's clock), so an
 *                  erasure finds them without a SCAN; pruned on every claim
 */

import { luaCommand, luaExtendTtl, luaNowMs } from './luaCommand';

/** `cmp(a, b)` of two event ids (`<ms>-<seq>`) in numeric order: -1, 0 or 1. */
export const luaCompareIds = `
local function parse(id)
  local d = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
end
local function cmp(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
`;

/** Shared helpers: id comparison and trimming by age, which records what it trims. */
const helpers = `${luaNowMs}${luaCompareIds}
local function trim_expired(stream, meta, ttl)
  local now = now_ms()
  local min_id = tostring(now - ttl) .. '-0'
  -- Look at the oldest entry first: a reverse range that matches nothing
  -- walks the whole stream.
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #oldest == 0 or cmp(oldest[1][1], min_id) >= 0 then return end
  local newest_old = redis.call('XREVRANGE', stream, '(' .. min_id, '-', 'COUNT', 1)
  if #newest_old > 0 then
    redis.call('HSET', meta, 'trimmed', newest_old[1][1])
    redis.call('XTRIM', stream, 'MINID', min_id)
  end
end
`;

/**
 * KEYS: stream, meta, and for a claimed publish its record and the topic's
 * record index. ARGV: channel, the command that publishes to it (PUBLISH or
 * SPUBLISH), maxEvents, ttlMs, payload, epoch (kept only by the publish that
 * creates the meta: the epoch of a new history), and for a claimed publish
 * its fingerprint and the record's ttl (ms).
 * Returns the new id; a claimed publish returns { 0, id } when it stored the
 * event, { 1, id } with the recorded id when the record was there with the
 * same fingerprint (nothing stored, nothing published), { 2, '' } when its
 * fingerprint differs. The check, the store and the record are one step: a
 * reply lost after it leaves the record for the retry to find.
 */
export const publishScript = luaCommand(
  'rtPublish',
  `${helpers}${luaExtendTtl}
local stream, meta, claim, claims = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if claim then
  local seen = redis.call('GET', claim)
  if seen then
    local sep = string.find(seen, ' ', 1, true)
    if string.sub(seen, 1, sep - 1) == ARGV[7] then return { 1, string.sub(seen, sep + 1) } end
    return { 2, '' }
  end
end
local max_events, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local id = redis.call('XADD', stream, '*', 'e', ARGV[5])
if redis.call('HSETNX', meta, 'origin', id) == 1 then
  redis.call('HSET', meta, 'epoch', ARGV[6])
end
redis.call('HSET', meta, 'head', id, 'ttl', ttl)
local len = redis.call('XLEN', stream)
if len > max_events then
  local dropped = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - max_events)
  redis.call('HSET', meta, 'trimmed', dropped[#dropped][1])
  redis.call('XTRIM', stream, 'MAXLEN', '=', max_events)
end
trim_expired(stream, meta, ttl)
local forget_after = math.max(ttl * 2, ttl + 60000)
redis.call('PEXPIRE', stream, forget_after)
redis.call('PEXPIRE', meta, forget_after)
redis.call(ARGV[2], ARGV[1], id .. ' ' .. ARGV[5])
if not claim then return id end
local claim_ttl = tonumber(ARGV[8])
local now = now_ms()
redis.call('SET', claim, ARGV[7] .. ' ' .. id, 'PX', claim_ttl)
redis.call('ZREMRANGEBYSCORE', claims, '-inf', now)
redis.call('ZADD', claims, now + claim_ttl, claim)
extend(claims, claim_ttl)
return { 0, id }
`,
);

/**
 * KEYS: stream, meta. ARGV: channel, the command that publishes to it, ttlMs,
 * payload, epoch (as for publishScript). A live-only event: the id XADD
 * would give (the entry is added and deleted at once, so the stream's last
 * id moves and later ids stay greater), the head moves to it, and it is
 * published; nothing is retained or trimmed. Returns the id.
 */
export const publishLiveScript = luaCommand(
  'rtPublishLive',
  `
local stream, meta = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[3])
local id = redis.call('XADD', stream, '*', 'e', '')
redis.call('XDEL', stream, id)
if redis.call('HSETNX', meta, 'origin', id) == 1 then
  redis.call('HSET', meta, 'epoch', ARGV[5])
end
redis.call('HSET', meta, 'head', id, 'ttl', ttl)
local forget_after = math.max(ttl * 2, ttl + 60000)
redis.call('PEXPIRE', stream, forget_after)
redis.call('PEXPIRE', meta, forget_after)
redis.call(ARGV[2], ARGV[1], id .. ' ' .. ARGV[4])
return id
`,
);

/**
 * KEYS: stream, meta, the topic's record index. Deletes the topic's history,
 * its meta, its idempotency records and their index; returns how many events
 * the stream held.
 */
export const eraseScript = luaCommand(
  'rtErase',
  `
local stream, meta, claims = KEYS[1], KEYS[2], KEYS[3]
local count = redis.call('XLEN', stream)
local names = redis.call('ZRANGE', claims, 0, -1)
for i = 1, #names, 500 do
  redis.call('DEL', unpack(names, i, math.min(i + 499, #names)))
end
redis.call('DEL', stream, meta, claims)
return count
`,
);

/**
 * KEYS: stream, meta. ARGV: afterId ('0-0' for all).
 * Returns { found (0|1), head, origin, trimmed, epoch, entries } with '' for
 * what is absent; entries are all retained ones when not found. The rule is
 * the one of server/bus/history.ts.
 */
export const readScript = luaCommand(
  'rtRead',
  `${helpers}
local stream, meta = KEYS[1], KEYS[2]
local after = ARGV[1]
local m = redis.call('HMGET', meta, 'head', 'origin', 'trimmed', 'ttl', 'epoch')
local head, origin, trimmed, ttl, epoch = m[1], m[2], m[3], m[4], m[5]
if not head then
  return { after == '0-0' and 1 or 0, '', '', '', '', {} }
end
if ttl then
  trim_expired(stream, meta, tonumber(ttl))
  trimmed = redis.call('HGET', meta, 'trimmed')
end
local found
if after == '0-0' then
  found = not trimmed
else
  local floor = trimmed or origin
  found = cmp(after, floor) >= 0 and cmp(after, head) <= 0
end
local entries
if found then
  entries = redis.call('XRANGE', stream, '(' .. after, '+')
else
  entries = redis.call('XRANGE', stream, '-', '+')
end
-- A meta written before epochs existed: its origin names its history as well.
return { found and 1 or 0, head, origin, trimmed or '', epoch or origin, entries }
`,
);
