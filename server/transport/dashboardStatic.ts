import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { paths } from '../../shared/paths';

/** Where `npm run build:dashboard` writes the dashboard (vite's outDir). */
const dashboardDistDir = fileURLToPath(new URL('../../client/dashboard/dist/', import.meta.url));

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
      for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    },
  });

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

  /** Answers the request if it is the dashboard's; resolves to whether it did. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === paths.dashboardConfig) {
      await sendConfig(req, res);
      return true;
    }
    // sirv answers synchronously, or calls `next` when the folder has no such file.
    let found = true;
    serveFile(req, res, () => {
      found = false;
    });
    if (found) return true;
    if (path === '/' || path === '/index.html') {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(notBuiltPage);
      return true;
    }
    return false;
  };
}
