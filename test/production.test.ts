import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, rm, symlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { TEST_SECRET } from './support/server';
import { run, spawnProcess } from './support/spawned';
import { subscribeAndPublish } from './support/tokensWork';

/**
 * The production path of the README: `npm run build` where the dev tools are,
 * then a folder with package.json, package-lock.json and dist/ only,
 * `npm ci --omit=dev` (from the npm registry) and `npm start`. Everything runs
 * in a temporary copy of this working tree (uncommitted changes included,
 * node_modules and dist/ excluded), so it never builds into the checkout's
 * dist/ while other suites run. Slow (npm ci): one test.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function tempDir() {
  const path = await mkdtemp(join(tmpdir(), 'realtime-production-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** The working tree's files git would commit: tracked and untracked but not ignored, as they are on disk now. */
async function copyWorkingTree(to: string) {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' });
  const files = listed.split('\0').filter((path) => path && !/^(node_modules|dist)\//.test(path) && existsSync(join(repoRoot, path)));
  for (const path of files) {
    await mkdir(dirname(join(to, path)), { recursive: true });
    await copyFile(join(repoRoot, path), join(to, path));
  }
  return files.length;
}

describe('a production install', () => {
  test('built with the dev tools, installed with npm ci --omit=dev: npm start serves health, and a token of npm run token subscribes and receives', async () => {
    await using tmp = await tempDir();
    const source = join(tmp.path, 'source');
    const production = join(tmp.path, 'production');
    const npmEnv = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

    expect(await copyWorkingTree(source)).toBeGreaterThan(10);
    // The dev dependencies for the build: this checkout's (never installed again here).
    await symlink(join(repoRoot, 'node_modules'), join(source, 'node_modules'), 'dir');
    await run('npm', ['run', 'build'], { cwd: source, env: npmEnv });
    // prestart on a development checkout: nothing to do while dist/ is current, a build once a source changed.
    expect(await run(process.execPath, ['scripts/ensureBuilt.mjs'], { cwd: source, env: npmEnv })).toEqual({ stdout: '', stderr: '' });
    await utimes(join(source, 'server/main.ts'), new Date(), new Date(Date.now() + 60_000));
    const rebuilt = await run(process.execPath, ['scripts/ensureBuilt.mjs'], { cwd: source, env: npmEnv });
    expect(rebuilt.stdout).toBe('');
    expect(rebuilt.stderr).toContain('server/main.ts changed since the last build');

    await mkdir(production);
    for (const file of ['package.json', 'package-lock.json']) await copyFile(join(source, file), join(production, file));
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: production, env: npmEnv });
    for (const devTool of ['tsx', 'esbuild', 'vite', 'pino-pretty']) {
      expect(existsSync(join(production, 'node_modules', devTool)), `${devTool} is a dev dependency`).toBe(false);
    }
    // A checkout installed without dev tools and never built: prestart says so in one line, and builds nothing.
    await mkdir(join(production, 'scripts'));
    await copyFile(join(source, 'scripts/ensureBuilt.mjs'), join(production, 'scripts/ensureBuilt.mjs'));
    await using unbuilt = spawnProcess('npm', ['start'], {
      cwd: production,
      env: { ...npmEnv, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET },
    });
    expect((await unbuilt.exited).code).toBe(1);
    expect(unbuilt.stderr()).toMatch(/^dist\/server\/main\.js is missing: run `npm run build` .*$/m);
    await rm(join(production, 'scripts'), { recursive: true });
    await cp(join(source, 'dist'), join(production, 'dist'), { recursive: true });

    const env = { ...npmEnv, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, PORT: '0', HOST: '127.0.0.1' };
    await using server = spawnProcess('npm', ['start'], { cwd: production, env });
    const [, wsUrl] = await server.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const httpUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');
    // Not a terminal, and no pino-pretty installed: one JSON object per log line.
    const listening = (await server.waitForOutput(/^\{.*"event":"listening".*\}$/m))[0];
    expect(JSON.parse(listening)).toMatchObject({ level: 30, event: 'listening' });

    const health = await fetch(`${httpUrl}/api/v1/ws/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy' });

    const token = async (...args: string[]) => {
      const { stdout } = await run('npm', ['run', '-s', 'token', '--', ...args], {
        cwd: production,
        env: { ...npmEnv, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET },
      });
      expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      return stdout.trim();
    };
    const userToken = await token('--sub', 'alice', '--investigations', 'inv-1', '--ttl', '10m');
    const serviceToken = await token('--sub', 'backend', '--role', 'service');

    const { progress } = await subscribeAndPublish({ wsUrl: wsUrl!, httpUrl, userToken, serviceToken, progress: 70 });
    expect(progress).toBe(70);

    process.kill(server.pid, 'SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 600_000);
});
