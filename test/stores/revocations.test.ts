import { expect, test } from 'vitest';
import { RedisRevocations } from '../../server/auth/redisRevocations';
import { MemoryRevocations, userTag } from '../../server/auth/revocations';
import { describeWithRedis } from '../support/redis';
import { memoryNodes, redisNodes } from '../support/sharedStores';
import { describeRevocationsContract } from './revocations.contract';

describeRevocationsContract(
  'memory',
  memoryNodes((opts) => new MemoryRevocations(opts)),
);

describeWithRedis('redis revocations', () => {
  describeRevocationsContract(
    'redis',
    redisNodes((redis, opts) => new RedisRevocations(redis, opts)),
  );
});

test('the memory store is bounded: past maxRecords the least recently set record goes', async () => {
  const store = new MemoryRevocations({ lifetimeMs: 60_000, maxRecords: 3 });
  for (let i = 0; i < 5; i++) {
    await store.revokeToken(`jti-${i}`);
    await store.revokeAccess(`user-${i}`, 'investigation:inv-1', i + 1);
  }
  expect(store.stats()).toEqual({ revokedAccess: 3, revokedTokens: 3 });
  expect(await store.isTokenRevoked('jti-0')).toBe(false);
  expect(await store.isTokenRevoked('jti-4')).toBe(true);
  expect(await store.accessRevokedAt('user-0', 'investigation:inv-1')).toBeNull();
  expect(await store.accessRevokedAt('user-4', 'investigation:inv-1')).toBe(5);
  await store.close();
});

test('a user tag is stable, differs per user and does not contain the id', () => {
  expect(userTag('alice')).toBe(userTag('alice'));
  expect(userTag('alice')).not.toBe(userTag('bob'));
  expect(userTag('alice')).not.toContain('alice');
  expect(userTag('alice')).toMatch(/^[A-Za-z0-9_-]{22}$/);
});
