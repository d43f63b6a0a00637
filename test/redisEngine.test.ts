import { createRedisEngine } from '../server/bus/redisEngine';
import { createLogger } from '../server/observability/logger';
import { connectRedis } from '../server/redis/connect';
import { describeEngineContract } from './engine.contract';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';

const logger = createLogger('silent');

describeEngineContract(
  'redis',
  async () => {
    const clients = connectRedis(REDIS_URL, uniquePrefix(), logger);
    await clients.ready();
    const engine = createRedisEngine(clients, logger);
    return {
      ...engine,
      async close() {
        await engine.close();
        await clients.close();
      },
    };
  },
  describeWithRedis,
);
