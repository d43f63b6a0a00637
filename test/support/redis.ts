import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { freePort, missingForTests } from './tools';

/** The Redis the suites share; CI starts one on 127.0.0.1:6379 (.ci/run). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function ping(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export const redisAvailable = await ping(REDIS_URL);

if (!redisAvailable) {
  missingForTests(
    `Redis is not reachable at ${REDIS_URL}: the Redis suites cannot run.`,
    'Start one with: redis-server --daemonize yes --port 6379 --save "" --appendonly no',
  );
}

/** `describe` when Redis is there, a loud skip when it is not (and a failure under CI). */
export const describeWithRedis = describe.skipIf(!redisAvailable);

/** A key prefix of its own, so tests sharing one database never see each other's keys. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

/**
 * A redis-server of the test's own, on a free port, that the test can kill
 * (by its pid) and start again on the same port: for outages. It writes every
 * command to an append-only file first, so what it had survives the kill, as
 * a production Redis with persistence would.
 */
export async function startOwnRedis() {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'realtime-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ReturnType<typeof spawn> | null = null;

  async function start() {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await ping(url)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${port} did not start`);
  }

  async function stop() {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    running.kill('SIGKILL');
    await once(running, 'exit');
  }

  await start();
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
