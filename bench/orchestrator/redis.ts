import { Redis } from 'ioredis';

/**
 * The Redis that redis-two-nodes runs on (REDIS_URL, default local). Only
 * the orchestrator talks to it here: whether it answers before the scenario
 * starts, and deleting a run's keys after it, so nothing is left behind.
 */
export const benchRedisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function client(url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

/** Null when Redis answers a PING within 2 s, else why not. */
export async function redisUnreachable(url: string): Promise<string | null> {
  const redis = client(url);
  // The socket's own error (ECONNREFUSED …) says more than the rejection ("Connection is closed.").
  let socketError: string | undefined;
  redis.on('error', (err: Error) => (socketError ??= err.message));
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return socketError ?? (err instanceof Error ? err.message : String(err));
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix` (a run's own, unique prefix). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = client(url);
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
