import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { limitDefaults } from '../../shared/limits';
import type { Logger } from '../observability/logger';
import { atMost } from './atMost';
import { boundCommands } from './boundCommands';
import { probeRedis } from './redisProbe';
import { type RedisClient, type Replication, replication } from './replication';

/** Where Redis is: one server (a URL), or the seed nodes (`host:port`) of a Redis Cluster. */
export type RedisTarget = { url: string } | { clusterNodes: readonly string[] };

export interface RedisClients {
  /**
   * Commands: publishing, history, stores. Fails at once while disconnected
   * or hung (`unresponsive`); otherwise each command waits at most the timeout.
   */
  command: RedisClient;
  /** Pub/sub only (a subscribed connection can run nothing else); on a cluster, one connection per primary for sharded pub/sub. */
  subscriber: RedisClient;
  /** A Redis Cluster: topics fan out over sharded pub/sub (SSUBSCRIBE/SPUBLISH), every multi-key step stays in one slot. */
  cluster: boolean;
  /** Writes acknowledged once a replica has them, where replicas exist (`REDIS_WAIT_REPLICAS`). */
  replication: Replication;
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
  /** Replicas a publish waits for (`REDIS_WAIT_REPLICAS`, 0: none). */
  waitReplicas?: number;
  /** The longest it waits for them (`REDIS_WAIT_TIMEOUT_MS`). */
  waitTimeoutMs?: number;
}

function whenReady(client: RedisClient, timeoutMs: number, what: string): Promise<void> {
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

const retryStrategy = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);

/**
 * The two clients of one Redis. Neither queues commands while Redis is away:
 * a publish during an outage must fail with a clear error, not wait and land
 * late. Both reconnect forever with a capped backoff, and the subscriber
 * resubscribes its channels by itself (ioredis `autoResubscribe`).
 */
function singleRedis(url: string): { command: Redis; subscriber: Redis } {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    // A command cut off by a disconnect fails rather than being sent again: a
    // publish retried after its XADD ran would store the event twice.
    maxRetriesPerRequest: 0,
    retryStrategy,
    lazyConnect: false,
  };
  return {
    command: new Redis(url, { ...options, connectionName: 'realtime-command' }),
    // The subscriber queues its SUBSCRIBE commands until connected: a subscription
    // made during an outage takes effect when Redis is back.
    subscriber: new Redis(url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, connectionName: 'realtime-subscriber' }),
  };
}

/**
 * The two clients of a Redis Cluster, with the same rules. ioredis follows
 * MOVED/ASK redirections and refreshes its slot table when a primary fails
 * over (a redirected command was not run, so following it stores nothing
 * twice). The subscriber uses sharded pub/sub: one connection per primary,
 * each carrying its slots' channels, so fan-out between nodes scales with
 * the shards instead of going through every node of the cluster.
 */
function redisCluster(nodes: readonly string[], timeoutMs: number): { command: Cluster; subscriber: Cluster } {
  const seeds = nodes.map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
  const options = (connectionName: string, sharded: boolean): ClusterOptions => ({
    enableOfflineQueue: sharded,
    enableReadyCheck: true,
    scaleReads: 'master',
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: timeoutMs,
    slotsRefreshInterval: 2_000,
    shardedSubscribers: sharded,
    redisOptions: { connectionName, maxRetriesPerRequest: sharded ? null : 0 },
  });
  return {
    command: new Cluster([...seeds], options('realtime-command', false)),
    subscriber: new Cluster([...seeds], options('realtime-subscriber', true)),
  };
}

/**
 * Two clients per node (commands, and pub/sub), on one Redis or a Redis
 * Cluster. A Redis that hangs (not closed, just silent) is found by a ping
 * every second.
 */
export function connectRedis(target: RedisTarget, prefix: string, logger: Logger, opts: RedisConnectOptions = {}): RedisClients {
  const timeoutMs = opts.timeoutMs ?? limitDefaults.REDIS_TIMEOUT_MS;
  const cluster = 'clusterNodes' in target;
  const { command, subscriber } = cluster ? redisCluster(target.clusterNodes, timeoutMs) : singleRedis(target.url);
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
  const replicas = replication(
    command,
    {
      replicas: opts.waitReplicas ?? limitDefaults.REDIS_WAIT_REPLICAS,
      // Within the bound every command has, so the publish fails with what WAIT answered.
      timeoutMs: Math.min(opts.waitTimeoutMs ?? limitDefaults.REDIS_WAIT_TIMEOUT_MS, Math.max(1, timeoutMs - 100)),
    },
    logger,
  );
  return {
    command,
    subscriber,
    cluster,
    replication: replicas,
    prefix,
    timeoutMs,
    unresponsive: () => probe.unresponsive,
    async ready(readyTimeoutMs = 10_000) {
      await Promise.all([whenReady(command, readyTimeoutMs, 'commands'), whenReady(subscriber, readyTimeoutMs, 'pub/sub')]);
    },
    async close() {
      probe.stop();
      replicas.stop();
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
