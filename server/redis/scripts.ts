/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, so an
 * event's id, its place in the stream, its trimming and its fan-out to every
 * node happen in one step (Centrifugo's design: XADD + PUBLISH in one script).
 *
 * Keys of a topic T (under the deployment's prefix P):
 *   P s:T   the stream: one entry per event, field `e` = JSON {type, data}
 *   P m:T   a hash: origin (first id ever), head (newest id), trimmed (newest
 *           trimmed id), ttl (ms) -- Redis does not record trimmed ids itself --
 *           and epoch: set when the hash is created, so a history that was
 *           lost (a Redis restarted empty, a forgotten topic) starts a new one
 * Channel P c:T carries `<id> <json>` for every event, to the nodes with
 * subscribers of T. Both keys expire after twice the ttl (at least ttl + 1 min)
 * without a publish: then the topic is forgotten and every old id resyncs.
 */

import { luaCommand, luaNowMs } from './luaCommand';

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
 * KEYS: stream, meta. ARGV: channel, maxEvents, ttlMs, payload, epoch (kept
 * only by the publish that creates the meta: the epoch of a new history).
 * Returns the new id.
 */
export const publishScript = luaCommand(
  'rtPublish',
  `${helpers}
local stream, meta = KEYS[1], KEYS[2]
local max_events, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local id = redis.call('XADD', stream, '*', 'e', ARGV[4])
if redis.call('HSETNX', meta, 'origin', id) == 1 then
  redis.call('HSET', meta, 'epoch', ARGV[5])
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
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[4])
return id
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
