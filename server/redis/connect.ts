import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger';

export interface RedisClients {
  /** Commands: publishing, history, stores. Fails fast while disconnected. */
  command: Redis;
  /** Pub/sub only (a subscribed connection can run nothing else). */
  subscriber: Redis;
  /** Prefix of every key and channel, so several deployments (or tests) share one database. */
  prefix: string;
  /** Resolves once both connections are up; rejects after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function whenReady(client: Redis, timeoutMs: number, what: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis (${what}) not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/**
 * Two connections per node. Neither queues commands while Redis is away: a
 * publish during an outage must fail with a clear error, not wait and land
 * late. Both reconnect forever with a capped backoff, and the subscriber
 * resubscribes its channels by itself (ioredis `autoResubscribe`).
 */
export function connectRedis(url: string, prefix: string, logger: Logger): RedisClients {
  const options = {
    enableOfflineQueue: false,
    // A command cut off by a disconnect fails rather than being sent again: a
    // publish retried after its XADD ran would store the event twice.
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    lazyConnect: false,
  };
  // A Redis that hangs (not closed, just silent) must not hang publishers.
  const command = new Redis(url, { ...options, commandTimeout: 5_000, connectionName: 'realtime-command' });
  // The subscriber queues its SUBSCRIBE commands until connected: a subscription
  // made during an outage takes effect when Redis is back.
  const subscriber = new Redis(url, {
    ...options,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectionName: 'realtime-subscriber',
  });
  for (const [name, client] of [
    ['command', command],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (err: Error) => logger.warn({ event: 'redis_error', connection: name, message: err.message }));
    client.on('ready', () => logger.info({ event: 'redis_ready', connection: name }));
    client.on('end', () => logger.debug({ event: 'redis_end', connection: name }));
  }
  return {
    command,
    subscriber,
    prefix,
    async ready(timeoutMs = 10_000) {
      await Promise.all([whenReady(command, timeoutMs, 'commands'), whenReady(subscriber, timeoutMs, 'pub/sub')]);
    },
    async close() {
      // quit() waits behind the offline queue, which never drains while Redis
      // is away: a client not connected is cut off at once, so a node stops
      // during an outage too.
      await Promise.allSettled([command, subscriber].map((client) => (client.status === 'ready' ? client.quit() : undefined)));
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
