import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { REDIS_URL, redisAvailable, uniquePrefix } from './support/redis';
import { startServer, TEST_SECRET, type TestServer } from './support/server';
import { waitFor } from './support/wait';

/**
 * The Python client (client/python, the cidadao_realtime package): its pytest
 * suite, run by the system's Python against a real server started here. The
 * server's URLs, its secret and two tokens go to pytest in the environment.
 * Without Debian's python3-websockets and python3-pytest the tests are skipped,
 * loudly; under CI=true they fail.
 */
const PYTHON = '/usr/bin/python3';
const packageDir = fileURLToPath(new URL('../client/python/', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import websockets, pytest'], { encoding: 'utf8' });
const missing = probe.error ? probe.error.message : probe.status === 0 ? null : probe.stderr.trim();
if (missing !== null) {
  const text = `the Python client is not tested: ${PYTHON} with python3-websockets and python3-pytest is unavailable (${missing}); apt-get install python3-websockets python3-pytest`;
  if (process.env.CI === 'true') throw new Error(text);
  console.warn(`SKIPPED: ${text}`);
}

async function settingsFor(srv: TestServer): Promise<Record<string, string>> {
  return {
    CIDADAO_TEST_HTTP_URL: srv.address.httpUrl,
    CIDADAO_TEST_WS_URL: srv.address.wsUrl,
    CIDADAO_TEST_JWT_SECRET: TEST_SECRET,
    CIDADAO_TEST_SERVICE_TOKEN: await srv.token({ sub: 'python-backend', roles: ['service'] }),
    CIDADAO_TEST_USER_TOKEN: await srv.token({ sub: 'python-user', investigations: ['*'], analyses: ['*'] }),
  };
}

/** Runs pytest in client/python; resolves with its exit code and everything it printed. */
function pytest(env: Record<string, string>, ...args: string[]): { done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-o', 'addopts=', ...args], {
    cwd: packageDir,
    env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  return { done: new Promise((resolve) => child.once('close', (code) => resolve({ code, output }))) };
}

describe.skipIf(missing !== null)('the Python client (pytest in client/python)', () => {
  test('typed events of every type, publishing, typed errors, rate limiting, resume after a drop', async () => {
    await using srv = await startServer();
    const { code, output } = await pytest(await settingsFor(srv), 'tests').done;
    expect(code, `pytest failed:\n${output}`).toBe(0);
  }, 180_000);

  // Redis's own module announces (or, under CI=true, fails on) a missing Redis.
  test.skipIf(!redisAvailable)(
    'a server restart with Redis: the client reconnects and resumes',
    async () => {
      const shared = { redisUrl: REDIS_URL, redisKeyPrefix: uniquePrefix() };
      const signals = await mkdtemp(join(tmpdir(), 'python-restart-'));
      try {
        await using first = await startServer(shared);
        // Another node on the same Redis, which the backend publishes through while the first is down.
        await using other = await startServer(shared);
        const run = pytest(
          { ...(await settingsFor(first)), CIDADAO_TEST_OTHER_HTTP_URL: other.address.httpUrl, CIDADAO_TEST_RESTART_DIR: signals },
          'tests/test_restart.py',
        );
        const failed = run.done.then(({ output }) => {
          throw new Error(`pytest ended early:\n${output}`);
        });
        const signal = (name: string) =>
          Promise.race([
            failed,
            waitFor(
              () => existsSync(join(signals, name)),
              (found) => found,
              `pytest's signal ${name}`,
            ),
          ]);
        await signal('received-first');
        await first.server.close();
        await signal('published-meanwhile');
        await using second = await startServer({ ...shared, port: first.address.port });
        expect(second.address.wsUrl).toBe(first.address.wsUrl);
        const { code, output } = await run.done;
        expect(code, `pytest failed:\n${output}`).toBe(0);
        expect(output).toMatch(/1 passed/);
      } finally {
        await rm(signals, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
