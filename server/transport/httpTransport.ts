import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { inputBounds } from '../../shared/limits';
import { paths } from '../../shared/paths';
import type { AppServices } from '../app';
import { authenticateToken } from '../auth/authenticate';
import { appRouter } from '../routers';
import type { Context } from '../trpc/context';
import { createDashboardHandler, type DashboardOptions } from './dashboardStatic';
import { createSseTransport } from './sseTransport';

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * One HTTP server for everything: tRPC over HTTP, health, metrics, and (when
 * `serveDashboard` is on) the dashboard at `/`; the WebSocket endpoint is
 * attached to its upgrade event.
 */
/** Whether a scrape may read /metrics: always without METRICS_TOKEN, else with it as a bearer token (compared in constant time). */
function metricsAuthorized(token: string | null, header: string | undefined): boolean {
  if (token === null) return true;
  if (!header?.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7).trim()).digest();
  return timingSafeEqual(given, createHash('sha256').update(token).digest());
}

export function createHttpServer(app: AppServices, dashboard: DashboardOptions = {}) {
  async function createContext({ req }: { req: IncomingMessage }): Promise<Context> {
    const header = req.headers.authorization;
    if (!header) return { app, principal: null, connection: null };
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : null;
    const verified = await authenticateToken(app, token);
    if (!verified.ok) throw new TRPCError({ code: 'UNAUTHORIZED', message: verified.error.message, cause: verified.error });
    return { app, principal: verified.principal, connection: null };
  }

  const trpcHandler = createHTTPHandler({
    router: appRouter,
    basePath: `${paths.trpc}/`,
    maxBodySize: app.config.limits.MAX_MESSAGE_BYTES,
    maxBatchSize: inputBounds.callsPerBatch,
    createContext,
    onError({ error, path }) {
      app.reportError(error, path);
    },
  });

  // Subscriptions over Server-Sent Events (GET /api/v1/sse/<procedure>): a tRPC handler of their own.
  const sse = createSseTransport(app);

  const dashboardHandler = app.config.serveDashboard ? createDashboardHandler(dashboard) : null;
  const notFound = (res: ServerResponse) => sendJson(res, 404, { error: 'not found', endpoints: paths });

  const headersTimeout = app.config.limits.HEADERS_TIMEOUT_MS;
  const serverOptions = {
    // A client has this long to send a request's head, the WebSocket upgrade
    // included (a slowloris holds a socket by never finishing it), and its
    // whole request: a body is at most MAX_MESSAGE_BYTES, sent by a backend.
    // Node answers 408 and closes the socket; an upgraded socket is no longer
    // a request and is not affected.
    headersTimeout,
    requestTimeout: headersTimeout,
    // Node looks for requests past those timeouts only this often (30 s by
    // default); each check walks only the connections with a request under way.
    connectionsCheckingInterval: Math.min(1_000, Math.max(1, Math.floor(headersTimeout / 2))),
  };

  const server = createServer(serverOptions, (req, res) => {
    // On every answer, this file's and those of the tRPC handler and the
    // dashboard: no browser may guess a type other than the one declared.
    res.setHeader('x-content-type-options', 'nosniff');
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (path.startsWith(`${paths.trpc}/`)) {
      trpcHandler(req, res);
    } else if (path.startsWith(`${paths.sse}/`)) {
      sse.handle(req, res);
    } else if (path === paths.health && req.method === 'GET') {
      const health = app.health();
      sendJson(res, health.status === 'healthy' ? 200 : 503, health);
    } else if (path === paths.live && req.method === 'GET') {
      // Alive while the process answers at all: an orchestrator restarts it only when this fails.
      sendJson(res, 200, { status: 'live' });
    } else if (path === paths.ready && req.method === 'GET') {
      // Ready for new clients: not draining, the engine reachable, room left.
      const { status, reason } = app.health();
      sendJson(res, status === 'healthy' ? 200 : 503, status === 'healthy' ? { status: 'ready' } : { status: 'not_ready', reason });
    } else if (path === paths.metrics && req.method === 'GET') {
      if (!metricsAuthorized(app.config.metricsToken, req.headers.authorization)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return sendJson(res, 401, { error: 'METRICS_TOKEN is set: send Authorization: Bearer <METRICS_TOKEN>' });
      }
      app.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': app.metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          app.logger.error({ event: 'metrics_failed', err });
          sendJson(res, 500, { error: 'metrics unavailable' });
        },
      );
    } else if (dashboardHandler) {
      dashboardHandler(req, res, path).then(
        (handled) => {
          if (!handled) notFound(res);
        },
        (err: unknown) => {
          app.logger.error({ event: 'dashboard_failed', path, err });
          if (!res.headersSent) sendJson(res, 500, { error: 'dashboard unavailable' });
          else res.destroy();
        },
      );
    } else {
      notFound(res);
    }
  });
  // The SSE streams, for the drain and the shutdown (server/index.ts).
  return Object.assign(server, { sse });
}
