import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './replication';

type Arg = string | number;

/**
 * A Lua script run with ioredis's `defineCommand`: EVALSHA, falling back to
 * EVAL when Redis does not know the script (after a restart, or the first
 * time), also inside a pipeline. Defined lazily on each client it is used with.
 */
export interface LuaCommand {
  run(client: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /** Queues the script on a pipeline made by `pipelineOf`. */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly Arg[]): void;
  /** A pipeline of `client` on which this script can be queued. */
  pipelineOf(client: RedisClient): ChainableCommander;
}

/** Redis's own clock in milliseconds, so every node scores and expires with one clock. */
export const luaNowMs = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Extends a key's expiry to at least `ttl` ms; never shortens it. */
export const luaExtendTtl = `
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

export function luaCommand(name: string, lua: string): LuaCommand {
  const ensure = (client: RedisClient) => {
    if (!(name in (client.scriptsSet as Record<string, unknown>))) client.defineCommand(name, { lua });
  };
  // Without numberOfKeys, ioredis takes the key count as the first argument.
  const call = (target: object, keys: readonly string[], args: readonly Arg[]) =>
    (target as Record<string, (...a: Arg[]) => unknown>)[name]!(keys.length, ...keys, ...args);
  return {
    run(client, keys, args) {
      ensure(client);
      return call(client, keys, args) as Promise<unknown>;
    },
    queue(pipeline, keys, args) {
      call(pipeline, keys, args);
    },
    pipelineOf(client) {
      ensure(client);
      return client.pipeline();
    },
  };
}
