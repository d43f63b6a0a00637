import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issueToken } from '../server/index';
import { startMain } from './support/process';
import { startServer, TEST_SECRET } from './support/server';

/** A GET with the path sent as is (fetch would normalize `..` away before it leaves). */
function rawGet(
  url: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serving the dashboard at /', () => {
  let base: string;
  let dist: string;

  beforeAll(async () => {
    // A stand-in for vite's output: the server serves whatever the build folder holds,
    // and nothing beside it (secret.txt).
    base = await mkdtemp(join(tmpdir(), 'dashboard-dist-'));
    dist = join(base, 'dist');
    await mkdir(join(dist, 'assets'), { recursive: true });
    await writeFile(join(base, 'secret.txt'), 'top secret');
    await writeFile(
      join(dist, 'index.html'),
      '<!doctype html><title>dashboard</title><script type="module" src="/assets/app-1a2b.js"></script>',
    );
    await writeFile(join(dist, 'assets', 'app-1a2b.js'), 'console.log("dashboard")');
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('off (the default of an embedded server): / is the API 404 and no config is exposed', async () => {
    await using srv = await startServer({ dashboard: { dir: dist } });
    const home = await fetch(`${srv.address.httpUrl}/`);
    expect(home.status).toBe(404);
    expect(await home.json()).toMatchObject({ error: 'not found' });
    expect((await fetch(`${srv.address.httpUrl}/dashboard-config.json`)).status).toBe(404);
  });

  test('on: the page, its hashed assets (cached for good), and a strict Content-Security-Policy', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    const home = await fetch(`${srv.address.httpUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(home.headers.get('cache-control')).toBe('no-cache');
    expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await home.text()).toContain('<title>dashboard</title>');

    const asset = await fetch(`${srv.address.httpUrl}/assets/app-1a2b.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).toBe('console.log("dashboard")');

    // The API still answers beside it.
    expect((await fetch(`${srv.address.httpUrl}/api/v1/ws/health`)).status).toBe(200);
    expect((await fetch(`${srv.address.httpUrl}/assets/missing.js`)).status).toBe(404);
  });

  test('no path leaves the build folder', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    for (const path of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets%2f..%2f..%2fsecret.txt',
      '/%00index.html',
    ]) {
      const res = await rawGet(srv.address.httpUrl, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('top secret');
    }
    // The same request inside the folder is served: the refusals above are about leaving it.
    expect((await rawGet(srv.address.httpUrl, '/assets/../index.html')).status).toBe(200);
  });

  test('not built yet: / says how to build it', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: join(dist, 'not-there') } });
    const home = await fetch(`${srv.address.httpUrl}/`);
    expect(home.status).toBe(404);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await home.text()).toContain('npm run build:dashboard');
  });

  test('/dashboard-config.json hands out a dev token only when the server was given one', async () => {
    await using prod = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    const none = await fetch(`${prod.address.httpUrl}/dashboard-config.json`);
    expect(none.headers.get('cache-control')).toBe('no-store');
    expect(await none.json()).toEqual({ devToken: null });

    const devToken = () => issueToken(TEST_SECRET, { sub: 'dev-user', investigations: ['*'] }, { expiresInSeconds: 600 });
    await using dev = await startServer({ serveDashboard: true, dashboard: { dir: dist, devToken } });
    const body = (await (await fetch(`${dev.address.httpUrl}/dashboard-config.json`)).json()) as { devToken: string };
    // A token this server accepts.
    const health = await fetch(`${dev.address.httpUrl}/api/v1/trpc/system.health`, {
      headers: { authorization: `Bearer ${body.devToken}` },
    });
    expect(health.status).toBe(200);
  });

  test('npm start: development mode serves the dashboard with a dev token; production never hands one out', async () => {
    await using devProc = startMain({ PORT: '0', HOST: '127.0.0.1' });
    const [, devUrl] = await devProc.waitForOutput(/Dashboard\s+(http:\/\/\S+)\//);
    const devConfig = (await (await fetch(`${devUrl}/dashboard-config.json`)).json()) as { devToken: string | null };
    expect(devConfig.devToken).toMatch(/^eyJ/);

    await using prodProc = startMain({
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      JWT_SECRET: TEST_SECRET,
      SERVE_DASHBOARD: 'true',
    });
    const [, prodUrl] = await prodProc.waitForOutput(/Dashboard\s+(http:\/\/\S+)\//);
    expect(await (await fetch(`${prodUrl}/dashboard-config.json`)).json()).toEqual({ devToken: null });

    // Production without SERVE_DASHBOARD: no dashboard at all.
    await using quietProc = startMain({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production', JWT_SECRET: TEST_SECRET });
    const [, wsUrl] = await quietProc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    expect(quietProc.stdout()).not.toContain('Dashboard');
    const quietUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');
    expect((await fetch(`${quietUrl}/dashboard-config.json`)).status).toBe(404);
  });
});
