import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { paths } from '../../shared/paths';

/**
 * The package's root: the nearest folder above this module with a
 * package.json. This module runs from source (server/transport/) and bundled
 * into dist/server/main.js (`npm run build`); both find the same root.
 */
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** Where `npm run build` (and `npm run build:dashboard`) writes the dashboard: vite's outDir. */
const dashboardDistDir = join(packageRoot(), 'dist', 'dashboard');

/**
 * A Host header that can stand in a CSP source: a DNS name or IPv4 address and
 * an optional port. Anything else (an IPv6 literal, which CSP sources cannot
 * hold, or a value with spaces or semicolons that would add directives) gets
 * 'self' alone.
 */
const cspHost = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?$/i;

/**
 * The page loads nothing but its own files and talks only to its own origin.
 * 'self' covers the page's own ws:/wss: in Chromium and Firefox (CSP Level 3);
 * the two sources built from the Host the page was requested with cover
 * browsers that do not, and name no other host: a WebSocket to anywhere else
 * is refused by the browser.
 */
function securityHeaders(req: IncomingMessage): Record<string, string> {
  const host = req.headers.host ?? '';
  const ownSockets = host.length <= 260 && cspHost.test(host) ? ` ws://${host} wss://${host}` : '';
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': `default-src 'self'; connect-src 'self'${ownSockets}; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  };
}

/**
 * Whether sirv would answer `req` with a source map. Source maps give the
 * dashboard's whole source away and are not built for production
 * (vite.config.ts), but one left in the folder must not be served either.
 * sirv cuts the URL at `#` or `?`, decodes it with decodeURI and drops one
 * trailing slash before looking the file up: the same is done here.
 */
function asksForSourceMap(req: IncomingMessage): boolean {
  const url = req.url ?? '/';
  const end = url.slice(1).search(/[#?]/);
  let pathname = end === -1 ? url : url.slice(0, end + 1);
  try {
    pathname = decodeURI(pathname);
  } catch {
    // sirv looks a malformed one up as it is.
  }
  return /\.map\/?$/i.test(pathname);
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The dashboard has not been built</h1>
<p>This server serves the live dashboard from <code>dist/dashboard</code>, which does not exist yet. Build it once:</p>
<pre style="background:#f3f4f6;padding:1rem;border-radius:6px">npm run build:dashboard</pre>
<p>then reload this page. The API itself is running: see <a href="${paths.health}">${paths.health}</a>.</p>
</body></html>
`;

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export interface DashboardOptions {
  /** The built dashboard; default dist/dashboard in the package's root. */
  dir?: string;
  /**
   * Development mode only: a fresh user token the sign-in form is pre-filled
   * with. Handed to loopback callers only, and never when this is absent (the
   * production default).
   */
  devToken?: () => Promise<string>;
}

/**
 * Serves the built dashboard with sirv: `/` and its hashed assets, and the
 * page's settings at `/dashboard-config.json`. Resolves to false for any other
 * path so the caller answers it.
 */
export function createDashboardHandler(opts: DashboardOptions = {}) {
  const serveFile = sirv(opts.dir ?? dashboardDistDir, {
    // sirv's `dev` mode looks every request up on disk instead of listing the
    // folder once at startup: a rebuild while the server runs is served at once,
    // and a folder built after startup works. It keeps every path inside the folder.
    dev: true,
    etag: true,
    extensions: ['html'],
    setHeaders(res, pathname) {
      // Vite names assets by content hash; index.html must be revalidated to pick new ones up.
      res.setHeader('cache-control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      for (const [name, value] of Object.entries(securityHeaders(res.req))) res.setHeader(name, value);
    },
  });

  async function sendConfig(req: IncomingMessage, res: ServerResponse) {
    const devToken = opts.devToken && isLoopback(req) ? await opts.devToken() : null;
    const text = JSON.stringify({ devToken });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...securityHeaders(req),
    });
    res.end(text);
  }

  /** Answers the request if it is the dashboard's; resolves to whether it did. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === paths.dashboardConfig) {
      await sendConfig(req, res);
      return true;
    }
    if (asksForSourceMap(req)) return false;
    // sirv answers synchronously, or calls `next` when the folder has no such file.
    let found = true;
    serveFile(req, res, () => {
      found = false;
    });
    if (found) return true;
    if (path === '/' || path === '/index.html') {
      res.writeHead(404, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // This page is one file with inline styles and nothing else to load.
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
      });
      res.end(notBuiltPage);
      return true;
    }
    return false;
  };
}
