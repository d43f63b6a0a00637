import { Redis } from 'ioredis';
import { REDIS_URL, uniquePrefix } from './redis';
import { startServer, type TestServer } from './server';

type StartOptions = NonNullable<Parameters<typeof startServer>[0]>;

/**
 * `n` nodes of one deployment in this process: one Redis, one key prefix of
 * their own, the same options; and a plain Redis connection to look at what
 * they keep. Disposable: every node closed, the connection too.
 */
export async function startNodes(n: number, opts: StartOptions = {}) {
  const prefix = uniquePrefix();
  const nodes: TestServer[] = [];
  const redis = new Redis(REDIS_URL);
  for (let i = 0; i < n; i++) nodes.push(await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: prefix, ...opts }));
  return {
    nodes,
    prefix,
    redis,
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      redis.disconnect();
    },
  };
}
