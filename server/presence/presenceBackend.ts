import { topics } from '../../shared/topics';
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaExtendTtl, luaNowMs } from '../redis/luaCommand';
import { topicTag } from '../redis/topicKeys';

/** One user's watching of an investigation: its live subscriptions and since when (ms since the epoch). */
export interface PresenceEntry {
  connections: number;
  since: number;
}

/** Where every node's members of an investigation meet. */
export interface PresenceBackend {
  /**
   * Replaces this node's entries of the investigation with `members` (an
   * empty map removes them), renewing their expiry.
   */
  write(investigationId: string, members: ReadonlyMap<string, PresenceEntry>): Promise<void>;
  /** The members on every node whose entries have not expired, summed per user (earliest `since`). */
  read(investigationId: string): Promise<Map<string, PresenceEntry>>;
}

/** One process: its own members are all there are. */
export function memoryPresenceBackend(local: (investigationId: string) => ReadonlyMap<string, PresenceEntry> | undefined): PresenceBackend {
  return {
    async write() {},
    async read(investigationId) {
      const members = new Map<string, PresenceEntry>();
      for (const [userId, entry] of local(investigationId) ?? [])
        members.set(userId, { connections: entry.connections, since: entry.since });
      return members;
    },
  };
}

/** Value of a field: `<connections>:<since ms>:<expires ms>`, times on Redis's clock. */
const parseEntry = `
local function parse(v)
  local c, s, e = string.match(v, '^(%d+):(%d+):(%d+)$')
  if not e then return nil end
  return tonumber(c), s, tonumber(e)
end
`;

/**
 * KEYS[1] the investigation's presence hash; ARGV node id, ttl ms, then
 * (user, connections) pairs: this node's members now. Fields are
 * `<user>|<node>`; this node's other fields and every expired one go; a
 * field kept keeps its `since`.
 */
const writeScript = luaCommand(
  'presenceWrite',
  `${luaNowMs}${luaExtendTtl}${parseEntry}
local key = KEYS[1]
local suffix = '|' .. ARGV[1]
local ttl = tonumber(ARGV[2])
local now = now_ms()
local keep = {}
local order = {}
for i = 3, #ARGV, 2 do
  local field = ARGV[i] .. suffix
  keep[field] = ARGV[i + 1]
  order[#order + 1] = field
end
local since = {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local field = all[i]
  local c, s, e = parse(all[i + 1])
  if keep[field] ~= nil and e and e > now then
    since[field] = s
  elseif not e or e <= now or string.sub(field, -#suffix) == suffix then
    redis.call('HDEL', key, field)
  end
end
for _, field in ipairs(order) do
  redis.call('HSET', key, field, keep[field] .. ':' .. (since[field] or tostring(now)) .. ':' .. tostring(now + ttl))
end
if #order > 0 then extend(key, ttl) end
return #order
`,
);

/** KEYS[1] the presence hash: the live fields, flat: field, connections, since. */
const readScript = luaCommand(
  'presenceRead',
  `${luaNowMs}${parseEntry}
local now = now_ms()
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local c, s, e = parse(all[i + 1])
  if e and e > now and c > 0 then
    out[#out + 1] = all[i]
    out[#out + 1] = tostring(c)
    out[#out + 1] = s
  end
end
return out
`,
);

/** The key of an investigation's presence: hash-tagged by its topic, like the topic's other keys will be. */
export function presenceKey(prefix: string, investigationId: string): string {
  return `${topicTag(prefix, topics.investigation(investigationId))}:presence`;
}

/**
 * Several nodes: one hash per investigation, a field per (user, node) with
 * its connections, `since` and expiry (Redis's clock). A node rewrites its
 * fields on every change and every ttl/3; a node that died stops, and its
 * fields are ignored after the ttl and removed by the next write. The key
 * expires with its newest field.
 */
export function redisPresenceBackend(redis: RedisClients, nodeId: string, ttlMs: number): PresenceBackend {
  return {
    async write(investigationId, members) {
      const args: (string | number)[] = [nodeId, ttlMs];
      for (const [userId, entry] of members) if (entry.connections > 0) args.push(userId, entry.connections);
      await writeScript.run(redis.command, [presenceKey(redis.prefix, investigationId)], args);
    },
    async read(investigationId) {
      const flat = (await readScript.run(redis.command, [presenceKey(redis.prefix, investigationId)], [])) as string[];
      const members = new Map<string, PresenceEntry>();
      for (let i = 0; i + 2 < flat.length; i += 3) {
        const field = flat[i]!;
        const userId = field.slice(0, field.lastIndexOf('|'));
        const connections = Number(flat[i + 1]);
        const since = Number(flat[i + 2]);
        const seen = members.get(userId);
        if (seen) {
          seen.connections += connections;
          seen.since = Math.min(seen.since, since);
        } else {
          members.set(userId, { connections, since });
        }
      }
      return members;
    },
  };
}
