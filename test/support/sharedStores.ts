import { createLogger } from '../../server/observability/logger';
import { connectRedis, type RedisClients, type RedisTarget } from '../../server/redis/connect';
import { REDIS_URL, uniquePrefix } from './redis';

export const silentLogger = createLogger('silent');

/** Where the stores' Redis is: a URL (one Redis), or a target (one Redis, or a Redis Cluster's seed nodes). */
export type StoreRedis = string | RedisTarget;

/** Redis clients that are connected (commands fail fast before that). */
export async function readyRedis(prefix: string, where: StoreRedis = REDIS_URL): Promise<RedisClients> {
  const clients = connectRedis(typeof where === 'string' ? { url: where } : where, prefix, silentLogger);
  try {
    await clients.ready();
  } catch (err) {
    await clients.close();
    throw err;
  }
  return clients;
}

/**
 * The nodes of one shared state. Each `node()` is another store instance over
 * the same state: with Redis, its own connection under a prefix common to the
 * nodes and unique to the test; in memory, the same instance (one process is
 * one node). `close()` closes every store, then every connection.
 */
export interface Nodes<S> {
  node(): Promise<S>;
  close(): Promise<void>;
}

interface Closable {
  close(): Promise<void>;
}

export type NodesFactory<S, O> = (opts: O) => Nodes<S>;

export function memoryNodes<S extends Closable, O>(make: (opts: O) => S): NodesFactory<S, O> {
  return (opts) => {
    let store: S | undefined;
    return {
      async node() {
        store ??= make(opts);
        return store;
      },
      async close() {
        await store?.close();
      },
    };
  };
}

export function redisNodes<S extends Closable, O>(
  make: (redis: RedisClients, opts: O) => S,
  where: StoreRedis = REDIS_URL,
): NodesFactory<S, O> {
  return (opts) => {
    const prefix = uniquePrefix();
    const open: { store: S; redis: RedisClients }[] = [];
    return {
      async node() {
        const redis = await readyRedis(prefix, where);
        const store = make(redis, opts);
        open.push({ store, redis });
        return store;
      },
      async close() {
        await Promise.all(open.map(({ store }) => store.close()));
        await Promise.all(open.splice(0).map(({ redis }) => redis.close()));
      },
    };
  };
}

/**
 * Nodes that the test closes through `afterEach`: `const nodes = track(factory(opts))`.
 * Returns the tracker and a function that closes what it tracked.
 */
export function nodesTracker() {
  const open: Nodes<unknown>[] = [];
  return {
    track<S>(nodes: Nodes<S>): Nodes<S> {
      open.push(nodes);
      return nodes;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((n) => n.close()));
    },
  };
}
