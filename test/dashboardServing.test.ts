import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
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
    expect(home.headers.get('content-type')).toMatch(/^text\/html;\s*charset=utf-8$/);
    expect(home.headers.get('cache-control')).toBe('no-cache');
    expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(home.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await home.text()).toContain('<title>dashboard</title>');
    // The query string (the ids the page watches) does not change what is served.
    expect((await fetch(`${srv.address.httpUrl}/?investigation=inv-1&session=chat-1`)).status).toBe(200);

    const asset = await fetch(`${srv.address.httpUrl}/assets/app-1a2b.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await asset.text()).toBe('console.log("dashboard")');

    // index.html is revalidated: unchanged, it costs a 304 without a body.
    const etag = home.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(`${srv.address.httpUrl}/`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);

    // Only GET and HEAD: anything else is the API's 404.
    const head = await fetch(`${srv.address.httpUrl}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await fetch(`${srv.address.httpUrl}/`, { method: 'POST' })).status).toBe(404);

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

  test('a rebuild while the server runs is served at once', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    expect((await fetch(`${srv.address.httpUrl}/assets/app-9z8y.js`)).status).toBe(404);
    await writeFile(join(dist, 'assets', 'app-9z8y.js'), 'console.log("rebuilt")');
    const asset = await fetch(`${srv.address.httpUrl}/assets/app-9z8y.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toBe('console.log("rebuilt")');
  });

  test('not built yet: / says how to build it', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: join(dist, 'not-there') } });
    const home = await fetch(`${srv.address.httpUrl}/`);
    expect(home.status).toBe(404);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await home.text()).toContain('npm run build:dashboard');
  });

  test('the real build (test/support/globalSetup.ts): the page and every file it loads, with their types, caching and CSP', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: inject('dashboardDir') } });
    const home = await fetch(`${srv.address.httpUrl}/`);
    expect(home.status).toBe(200);
    const html = await home.text();
    const files = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    expect(files.some((f) => f.endsWith('.css'))).toBe(true);
    for (const file of files) {
      const res = await fetch(`${srv.address.httpUrl}${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toMatch(file.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers.get('cache-control'), file).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-security-policy'), file).toContain("default-src 'self'");
    }
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
