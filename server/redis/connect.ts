import { Redis } from 'ioredis';
import { limitDefaults } from '../../shared/limits';
import type { Logger } from '../observability/logger';
import { atMost } from './atMost';
import { boundCommands } from './boundCommands';
import { probeRedis } from './redisProbe';

export interface RedisClients {
  /**
   * Commands: publishing, history, stores. Fails at once while disconnected
   * or hung (`unresponsive`); otherwise each command waits at most the timeout.
   */
  command: Redis;
  /** Pub/sub only (a subscribed connection can run nothing else). */
  subscriber: Redis;
  /** Prefix of every key and channel, so several deployments (or tests) share one database. */
  prefix: string;
  /** True while Redis, connected, answered no ping within the timeout (hung): commands are then refused at once. */
  unresponsive(): boolean;
  /** The longest a command waits for Redis (`REDIS_TIMEOUT_MS`). */
  timeoutMs: number;
  /** Resolves once both connections are up; rejects after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface RedisConnectOptions {
  /** The longest a command may wait for Redis, and the ping's bound (`REDIS_TIMEOUT_MS`). */
  timeoutMs?: number;
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
 * resubscribes its channels by itself (ioredis `autoResubscribe`). A Redis
 * that hangs (not closed, just silent) is found by a ping every second.
 */
export function connectRedis(url: string, prefix: string, logger: Logger, opts: RedisConnectOptions = {}): RedisClients {
  const timeoutMs = opts.timeoutMs ?? limitDefaults.REDIS_TIMEOUT_MS;
  const options = {
    enableOfflineQueue: false,
    // A command cut off by a disconnect fails rather than being sent again: a
    // publish retried after its XADD ran would store the event twice.
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    lazyConnect: false,
  };
  const command = new Redis(url, { ...options, connectionName: 'realtime-command' });
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
  // One probe per node, on the connection every command takes. A command
  // already sent when Redis hangs fails after the timeout instead of holding
  // its caller (Redis may still run it once it wakes up); later ones fail at
  // once.
  const probe = probeRedis(command, logger);
  boundCommands(command, probe, timeoutMs);
  return {
    command,
    subscriber,
    prefix,
    timeoutMs,
    unresponsive: () => probe.unresponsive,
    async ready(readyTimeoutMs = 10_000) {
      await Promise.all([whenReady(command, readyTimeoutMs, 'commands'), whenReady(subscriber, readyTimeoutMs, 'pub/sub')]);
    },
    async close() {
      probe.stop();
      // quit() waits behind the offline queue, which never drains while Redis
      // is away, and for an answer a hung Redis never gives: a client not
      // connected is cut off at once, and a quit waits at most the timeout,
      // so a node stops during an outage too.
      const quits = [command, subscriber].map((client) => (client.status === 'ready' && !probe.unresponsive ? client.quit() : undefined));
      await atMost(Promise.allSettled(quits), timeoutMs);
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
