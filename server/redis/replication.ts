import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../observability/logger';
import type { LuaCommand } from './luaCommand';
import { slotOf } from './slotOf';

/** One Redis, or a Redis Cluster: the same commands, routed by key on a cluster. */
export type RedisClient = Redis | Cluster;

/** How often a single Redis is asked how many replicas it has (a cluster's topology says it). */
const REPLICAS_POLL_MS = 5_000;

/** A publish whose replicas did not confirm it in time: it may be on the primary only. */
export class RedisNotReplicatedError extends Error {
  override name = 'RedisNotReplicatedError';
  readonly code = 'redis_not_replicated';
}

export interface ReplicaWait {
  /** Replicas wanted (`REDIS_WAIT_REPLICAS`); 0: writes are acknowledged without waiting. */
  replicas: number;
  /** The longest a write waits for them (`REDIS_WAIT_TIMEOUT_MS`). */
  timeoutMs: number;
}

export interface Replication {
  /**
   * Runs a write script and acknowledges it only once `min(wanted, replicas
   * the key's primary has now)` replicas have it: Redis replicates
   * asynchronously, so an event only the primary held is lost when a replica
   * takes over. WAIT goes in one pipeline after the script, on the connection
   * that wrote (WAIT counts that connection's writes). A primary without
   * replicas has nothing to wait for: its writes are acknowledged at once.
   */
  runDurably(script: LuaCommand, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  stop(): void;
}

/** Replicas of the primary serving `key`: on a cluster from the slot table ioredis keeps current; on one Redis, polled. */
function replicaCounter(client: RedisClient, logger: Logger): { of(key: string): number; stop(): void } {
  if ('slots' in client && Array.isArray(client.slots)) {
    const cluster = client;
    // The table lists a slot's primary first, then its replicas.
    return { of: (key) => Math.max(0, (cluster.slots[slotOf(key)]?.length ?? 1) - 1), stop: () => undefined };
  }
  const redis = client as Redis;
  let replicas = 0;
  const poll = () => {
    if (redis.status !== 'ready') return;
    redis.info('replication').then(
      (info) => {
        const match = /connected_slaves:(\d+)/.exec(info);
        const now = match ? Number(match[1]) : 0;
        if (now !== replicas) logger.info({ event: 'redis_replicas', replicas: now });
        replicas = now;
      },
      () => undefined,
    );
  };
  redis.on('ready', poll);
  const timer = setInterval(poll, REPLICAS_POLL_MS);
  timer.unref();
  poll();
  return {
    of: () => replicas,
    stop() {
      clearInterval(timer);
      redis.off('ready', poll);
    },
  };
}

interface Pending {
  script: LuaCommand;
  keys: readonly string[];
  args: readonly (string | number)[];
  resolve(reply: unknown): void;
  reject(err: unknown): void;
}

/**
 * WAIT blocks the connection it is sent on until the replicas answer, so one
 * WAIT per publish would line every publish to a primary up behind the one
 * before it. Instead the writes of one turn of the event loop to one primary
 * go in one pipeline that ends with a single WAIT (group commit): WAIT covers
 * every write its connection sent before it. The writes run in call order, so
 * a topic's ids still increase in publish order.
 *
 * On a cluster the writes go in such pipelines even with no replica to wait
 * for: a command sent to a node that no longer serves its slot comes back
 * MOVED and ioredis sends it again on its own, so two publishes fired at once
 * could swap; a pipeline redirected as a whole keeps its order.
 */
export function replication(client: RedisClient, wait: ReplicaWait, logger: Logger): Replication {
  const isCluster = 'slots' in client && Array.isArray(client.slots);
  const counter = wait.replicas > 0 ? replicaCounter(client, logger) : null;
  /** The primary a key's slot is on (one group on a single Redis). */
  const primaryOf = (key: string): string => (isCluster ? ((client as Cluster).slots[slotOf(key)]?.[0] ?? '') : '');
  const batches = new Map<string, Pending[]>();

  async function flush(primary: string, batch: Pending[]) {
    batches.delete(primary);
    const replicas = Math.min(wait.replicas, counter?.of(batch[0]!.keys[0] ?? '') ?? 0);
    // Every script of the batch defined on the client (usually one: the publish).
    let pipeline: ReturnType<LuaCommand['pipelineOf']> | undefined;
    for (const script of new Set(batch.map((call) => call.script))) pipeline = script.pipelineOf(client);
    if (!pipeline) return;
    for (const call of batch) call.script.queue(pipeline, call.keys, call.args);
    if (replicas > 0) pipeline.call('WAIT', replicas, wait.timeoutMs);
    let results: [Error | null, unknown][];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (err) {
      for (const call of batch) call.reject(err);
      return;
    }
    let notReplicated: Error | null = null;
    if (replicas > 0) {
      const [waitErr, acked] = results[batch.length] ?? [new Error('Redis answered no reply to WAIT'), 0];
      if (waitErr) notReplicated = waitErr;
      else if (Number(acked) < replicas) {
        notReplicated = new RedisNotReplicatedError(`${acked} of ${replicas} replica(s) confirmed the write within ${wait.timeoutMs} ms`);
      }
    }
    for (const [i, call] of batch.entries()) {
      const [err, reply] = results[i] ?? [new Error('Redis answered no reply to a replicated write'), null];
      if (err) call.reject(err);
      else if (notReplicated) call.reject(notReplicated);
      else call.resolve(reply);
    }
  }

  return {
    runDurably(script, keys, args) {
      // One Redis with nothing to wait for (no replica now): one command, in order on its connection.
      if (!isCluster && (!counter || counter.of(keys[0] ?? '') === 0)) return script.run(client, keys, args);
      return new Promise((resolve, reject) => {
        const primary = primaryOf(keys[0] ?? '');
        let batch = batches.get(primary);
        if (!batch) {
          batch = [];
          batches.set(primary, batch);
          const queued = batch;
          setImmediate(() => void flush(primary, queued));
        }
        batch.push({ script, keys, args, resolve, reject });
      });
    },
    stop() {
      counter?.stop();
    },
  };
}
