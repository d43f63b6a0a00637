import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { issueToken } from '../server/index';
import { describeWithChromium, openPage, signIn, waitForConnection } from './support/browser';
import { useDashboardBrowser } from './support/dashboardPage';
import { startMain } from './support/process';
import { startServer, TEST_SECRET } from './support/server';
import { waitFor } from './support/wait';

/** A GET with the path (and Host, when given) sent as is: fetch would normalize `..` away and set Host itself. */
function rawGet(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A Content-Security-Policy header as directive name → sources. */
function cspOf(header: string | string[] | null | undefined): Map<string, string[]> {
  expect(typeof header).toBe('string');
  const directives = (header as string).split(';').map((d) => d.trim().split(/\s+/));
  return new Map(directives.filter((d) => d[0]).map(([name, ...sources]) => [name!, sources]));
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
    // A source map left in the folder (a build with DASHBOARD_SOURCEMAP=true, an old build).
    await writeFile(join(dist, 'assets', 'app-1a2b.js.map'), '{"version":3,"sources":["secret-source.ts"]}');
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

  test("the CSP's connect-src names the page's own origin only, built from the Host the page was asked with", async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    const { host } = new URL(srv.address.httpUrl);
    const home = cspOf((await fetch(`${srv.address.httpUrl}/`)).headers.get('content-security-policy'));
    expect(home.get('connect-src')).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
    expect(home.get('default-src')).toEqual(["'self'"]);
    expect(home.get('frame-ancestors')).toEqual(["'none'"]);

    // Behind a name (or a proxy that keeps the Host), that name.
    const named = await rawGet(srv.address.httpUrl, '/', { host: 'realtime.example.org:8443' });
    expect(cspOf(named.headers['content-security-policy']).get('connect-src')).toEqual([
      "'self'",
      'ws://realtime.example.org:8443',
      'wss://realtime.example.org:8443',
    ]);

    // A Host that is not a plain host[:port] adds nothing: it cannot smuggle in a source or a directive.
    for (const hostile of ['evil.example; script-src *', 'a.example ws:', '[::1]:8000', "'unsafe-inline'"]) {
      const res = await rawGet(srv.address.httpUrl, '/', { host: hostile });
      const csp = cspOf(res.headers['content-security-policy']);
      expect(csp.get('connect-src'), hostile).toEqual(["'self'"]);
      expect(csp.has('script-src'), hostile).toBe(false);
    }

    // The page's settings and its assets carry the same policy.
    for (const path of ['/assets/app-1a2b.js', '/dashboard-config.json']) {
      const csp = cspOf((await fetch(`${srv.address.httpUrl}${path}`)).headers.get('content-security-policy'));
      expect(csp.get('connect-src'), path).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
    }
  });

  test('a source map in the folder is never served, however it is asked for', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    for (const path of [
      '/assets/app-1a2b.js.map',
      '/assets/app-1a2b.js.map/',
      '/assets/app-1a2b.js.map?v=1',
      '/assets/app-1a2b.js.map#top',
      '/assets/app-1a2b.js%2emap',
      '/assets/app-1a2b.js.%6dap',
      '/assets/../assets/app-1a2b.js.map',
      '/assets/app-1a2b.js.MAP',
    ]) {
      const res = await rawGet(srv.address.httpUrl, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('secret-source');
    }
    // The script beside it is served.
    expect((await rawGet(srv.address.httpUrl, '/assets/app-1a2b.js')).status).toBe(200);
  });

  test('every response of the dashboard says nosniff', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
    for (const path of ['/', '/index.html', '/assets/app-1a2b.js', '/dashboard-config.json']) {
      const res = await fetch(`${srv.address.httpUrl}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    await using unbuilt = await startServer({ serveDashboard: true, dashboard: { dir: join(dist, 'not-there') } });
    const home = await fetch(`${unbuilt.address.httpUrl}/`);
    expect(home.status).toBe(404);
    expect(home.headers.get('x-content-type-options')).toBe('nosniff');
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
      expect(res.headers.get('x-content-type-options'), file).toBe('nosniff');
      // A production build points at no source map.
      expect(await res.text(), file).not.toContain('sourceMappingURL');
    }
    const built = await readdir(inject('dashboardDir'), { recursive: true });
    expect(built.filter((name) => name.endsWith('.map'))).toEqual([]);
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

describeWithChromium('the dashboard in Chromium, under its Content-Security-Policy', () => {
  const env = useDashboardBrowser();

  test('the page connects to its own origin, by address and by name; a WebSocket to another host is blocked', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: env.dashboardDir } });
    const { port } = new URL(srv.address.httpUrl);
    const claims = { sub: 'alice', investigations: ['*'], analyses: ['*'] };
    for (const origin of [srv.address.httpUrl, `http://localhost:${port}`]) {
      await using page = await openPage(env.browser);
      await page.goto(`${origin}/`);
      await signIn(page, await srv.token(claims));
      await waitForConnection(page, 'open');
      expect(page.pageErrors, origin).toEqual([]);
    }

    // The same server under another name: it accepts WebSockets there (above), so
    // only the policy of the page loaded from 127.0.0.1 can stop this one.
    await using page = await openPage(env.browser);
    await page.goto(`${srv.address.httpUrl}/`);
    const elsewhere = `ws://localhost:${port}/api/v1/ws`;
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          try {
            const socket = new WebSocket(url);
            socket.onopen = () => resolve('opened');
            // Chromium reports a blocked connection as an error, without a close.
            socket.onerror = () => resolve('failed');
            socket.onclose = () => resolve('closed without opening');
          } catch (err) {
            resolve(`refused: ${String(err)}`);
          }
        }),
      elsewhere,
    );
    expect(outcome).not.toBe('opened');
    const [violation] = await waitFor(
      () => page.pageErrors,
      (errors) => errors.length > 0,
      'the Content-Security-Policy violation',
    );
    expect(violation).toContain(elsewhere);
    expect(violation).toContain('connect-src');
  });
});
