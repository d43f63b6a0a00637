import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paths } from '../../shared/paths';

/** Where `npm run build:dashboard` writes the dashboard (vite's outDir). */
const dashboardDistDir = fileURLToPath(new URL('../../client/dashboard/dist/', import.meta.url));

/** The path the page reads its settings from. */
const dashboardConfigPath = paths.dashboardConfig;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// The page talks only to its own origin (HTTP and WebSocket); nothing else may load.
const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The dashboard has not been built</h1>
<p>This server serves the live dashboard from <code>client/dashboard/dist</code>, which does not exist yet. Build it once:</p>
<pre style="background:#f3f4f6;padding:1rem;border-radius:6px">npm run build:dashboard</pre>
<p>then reload this page. The API itself is running: see <a href="${paths.health}">${paths.health}</a>.</p>
</body></html>
`;

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export interface DashboardOptions {
  /** The built dashboard; default client/dashboard/dist. */
  dir?: string;
  /**
   * Development mode only: a fresh user token the sign-in form is pre-filled
   * with. Handed to loopback callers only, and never when this is absent (the
   * production default).
   */
  devToken?: () => Promise<string>;
}

/**
 * Serves the built dashboard: `/` and its hashed assets, and the page's
 * settings at `/dashboard-config.json`. Returns false for any other path so
 * the caller answers it.
 */
export function createDashboardHandler(opts: DashboardOptions = {}) {
  const root = opts.dir ?? dashboardDistDir;

  async function sendConfig(req: IncomingMessage, res: ServerResponse) {
    const devToken = opts.devToken && isLoopback(req) ? await opts.devToken() : null;
    const text = JSON.stringify({ devToken });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...securityHeaders,
    });
    res.end(text);
  }

  async function sendFile(req: IncomingMessage, res: ServerResponse, relative: string): Promise<boolean> {
    const file = normalize(join(root, relative));
    // A path with `..` must never leave the build folder.
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return false;
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return false;
    const immutable = relative.startsWith('assets/');
    res.writeHead(200, {
      'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      // Vite names assets by content hash; index.html must be revalidated to pick new ones up.
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...securityHeaders,
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    createReadStream(file).pipe(res);
    return true;
  }

  /** Answers the request if it is the dashboard's; resolves to whether it did. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === dashboardConfigPath) {
      await sendConfig(req, res);
      return true;
    }
    if (path === '/' || path === '/index.html') {
      if (await sendFile(req, res, 'index.html')) return true;
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(notBuiltPage);
      return true;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(path.slice(1));
    } catch {
      return false;
    }
    if (relative.includes('\0')) return false;
    return sendFile(req, res, relative);
  };
}
