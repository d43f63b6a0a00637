import { MemoryKnownUsers } from '../../server/notifications/knownUsers';
import { RedisKnownUsers } from '../../server/notifications/redisKnownUsers';
import { describeWithRedis } from '../support/redis';
import { memoryNodes, redisNodes } from '../support/sharedStores';
import { describeKnownUsersContract } from './knownUsers.contract';

describeKnownUsersContract(
  'memory',
  memoryNodes((opts) => new MemoryKnownUsers(opts)),
);

describeWithRedis('redis known users', () => {
  describeKnownUsersContract(
    'redis',
    redisNodes((redis, opts) => new RedisKnownUsers(redis, opts)),
  );
});
