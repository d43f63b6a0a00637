import { createRedisEngine } from '../../server/bus/redisEngine';
import { createLogger } from '../../server/observability/logger';
import { connectRedis, type RedisConnectOptions, type RedisTarget } from '../../server/redis/connect';
import { uniquePrefix } from './redis';

const logger = createLogger('silent');

/** A Redis engine on connections of its own (one Redis or a cluster), closed with them; disposable. */
export async function redisEngineOn(target: RedisTarget, prefix = uniquePrefix(), opts: RedisConnectOptions = {}) {
  const clients = connectRedis(target, prefix, logger, opts);
  await clients.ready();
  const engine = createRedisEngine(clients, logger);
  const close = async () => {
    await engine.close();
    await clients.close();
  };
  return { ...engine, clients, close, [Symbol.asyncDispose]: close };
}
