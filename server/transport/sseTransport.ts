import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, TRPCError, transformTRPCResponse } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getHTTPStatusCodeFromError, parseConnectionParamsFromString } from '@trpc/server/http';
import { paths, sseConnectionType } from '../../shared/paths';
import type { AppServices } from '../app';
import { authenticateToken } from '../auth/authenticate';
import { isService } from '../auth/principal';
import { apiError } from '../errors';
import { appRouter } from '../routers';
import type { Context } from '../trpc/context';
import { createClientAddress } from './clientAddress';
import { inWaves } from './inWaves';
import { type SseEnd, SseStream, type SseStreamOptions } from './sseStream';

/** What a refusal before the stream opens looks like to tRPC's error formatter. */
function errorBody(error: TRPCError, path: string | undefined) {
  const config = appRouter._def._config;
  const shape = getErrorShape({ config, error, type: 'subscription', path, input: undefined, ctx: undefined });
  return JSON.stringify(transformTRPCResponse(config, { error: shape }));
}

/** The token of a stream: `Authorization: Bearer` where the client can set it, else `connectionParams.token` of the query (httpSubscriptionLink). */
function tokenOf(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) return header.startsWith('Bearer ') ? header.slice(7).trim() : null;
  const params = url.searchParams.get('connectionParams');
  if (params === null) return null;
  return parseConnectionParamsFromString(params)?.token ?? null;
}

/**
 * tRPC subscriptions over Server-Sent Events, `GET /api/v1/sse/<procedure>`
 * (httpSubscriptionLink): a second tRPC HTTP handler that takes only
 * subscriptions, in front of which each stream is authenticated, rate limited
 * (user tokens: one HTTP call of the budget), counted against
 * MAX_CONNECTIONS_PER_USER and registered; tRPC's own SSE support then runs
 * the procedure and writes the stream (`Last-Event-ID` becomes the input's
 * `lastEventId`), through the SseStream (sseStream.ts) that bounds, batches,
 * counts and ends it. Refusals before a stream opens are plain tRPC errors
 * with their HTTP status (401, 404, 405, 429, 503), never a stream.
 */
export function createSseTransport(app: AppServices) {
  const { logger, metrics } = app;
  const { limits } = app.config;
  const clientAddress = createClientAddress(app.config.trustProxy);
  const streams = new Map<string, SseStream>();
  let accepting = true;

  // The label exists from the start, at zero, like the WebSocket connection types.
  metrics.connections.set({ type: sseConnectionType }, 0);
  metrics.opened.inc({ type: sseConnectionType }, 0);

  const streamOptions: SseStreamOptions = {
    slowConsumerBytes: limits.SLOW_CONSUMER_BYTES,
    clock: app.clock,
    metrics,
    logger,
    subscriptionsChanged(delta) {
      app.registry.onSubscriptionsChanged(delta);
      metrics.subscriptions.inc(delta);
    },
    access: app.admin.subscriptionAccess,
  };

  /** The stream each admitted request runs on, for the context tRPC asks for. */
  const admitted = new WeakMap<IncomingMessage, SseStream>();

  const trpcHandler = createHTTPHandler({
    router: appRouter,
    basePath: `${paths.sse}/`,
    allowBatching: false,
    allowMethodOverride: false,
    maxBodySize: limits.MAX_MESSAGE_BYTES,
    createContext({ req }): Context {
      const stream = admitted.get(req);
      if (!stream) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'a stream without admission' });
      return { app, principal: stream.principal, connection: null, sse: stream };
    },
    onError({ error, path, req }) {
      const stream = admitted.get(req);
      app.reportError(
        error,
        path,
        stream ? { connectionId: stream.id, userId: stream.principal.userId, remoteAddress: stream.clientAddress } : {},
      );
    },
  });

  function refuse(res: ServerResponse, error: TRPCError, path: string | undefined, headers: Record<string, string> = {}) {
    const body = errorBody(error, path);
    res.writeHead(getHTTPStatusCodeFromError(error), {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  function onStreamClosed(stream: SseStream, code: number) {
    streams.delete(stream.id);
    void app.connectionCounter.release(stream.principal.userId, stream.id);
    metrics.connections.dec({ type: sseConnectionType });
    metrics.closed.inc({ code: String(code) });
    logger.info({
      event: 'connection_closed',
      connectionId: stream.id,
      userId: stream.principal.userId,
      remoteAddress: stream.clientAddress,
      type: sseConnectionType,
      procedure: stream.procedure,
      code,
      durationMs: Date.now() - stream.openedAt,
    });
  }

  async function admit(req: IncomingMessage, res: ServerResponse, url: URL, procedure: string) {
    const address = clientAddress(req);
    const verified = await authenticateToken(app, tokenOf(req, url));
    if (!verified.ok) {
      app.reportError(verified.error, procedure, { remoteAddress: address });
      return refuse(res, verified.error, procedure, { 'www-authenticate': 'Bearer' });
    }
    const { principal } = verified;
    const { userId } = principal;
    // Opening a stream is one HTTP call of the user's budget; its events are not.
    if (!isService(principal) && !(await app.rateLimiter.consumeUser(userId))) {
      metrics.rateLimited.inc();
      const refused = apiError('rate_limited');
      app.reportError(refused, procedure, { userId, remoteAddress: address });
      return refuse(res, refused, procedure);
    }
    const id = randomBytes(12).toString('base64url');
    const counted = await app.connectionCounter.acquire(userId, id);
    if (!counted) {
      const refused = apiError('too_many_connections');
      app.reportError(refused, procedure, { connectionId: id, userId, remoteAddress: address });
      return refuse(res, refused, procedure);
    }
    if (res.destroyed || req.destroyed || !accepting) {
      // The client left (or the node began draining) while it was being counted.
      void app.connectionCounter.release(userId, id);
      if (!res.destroyed) refuse(res, apiError('server_closing'), procedure);
      return;
    }
    const stream = new SseStream(id, principal, procedure, address, res, streamOptions, onStreamClosed);
    streams.set(id, stream);
    admitted.set(req, stream);
    metrics.connections.inc({ type: sseConnectionType });
    metrics.opened.inc({ type: sseConnectionType });
    logger.info({ event: 'connection_opened', connectionId: id, userId, remoteAddress: address, type: sseConnectionType, procedure });
    app.knownUsers.touch(userId).catch((err: Error) => logger.warn({ event: 'known_users_unavailable', userId, message: err.message }));
    // The proxy must not buffer the stream (nginx reads this too; tRPC sets it again).
    res.setHeader('x-accel-buffering', 'no');
    trpcHandler(req, res);
  }

  /** Handles a request whose path starts with /api/v1/sse/. */
  function handle(req: IncomingMessage, res: ServerResponse) {
    // A socket error of a stream must not become an uncaught 'error' event.
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    let procedure: string;
    try {
      procedure = decodeURIComponent(url.pathname.slice(paths.sse.length + 1));
    } catch {
      procedure = '';
    }
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
    const proc = Object.hasOwn(procedures, procedure) ? procedures[procedure] : undefined;
    if (!proc) {
      return refuse(res, new TRPCError({ code: 'NOT_FOUND', message: 'no subscription procedure at this path' }), undefined);
    }
    if (proc._def.type !== 'subscription') {
      return refuse(res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: 'only subscriptions are served over SSE' }), procedure, {
        allow: 'GET',
      });
    }
    if (req.method !== 'GET') {
      return refuse(res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: 'an SSE subscription is a GET' }), procedure, {
        allow: 'GET',
      });
    }
    if (!accepting) return refuse(res, apiError('server_closing'), procedure);
    admit(req, res, url, procedure).catch((err: unknown) => {
      logger.error({ event: 'sse_admission_failed', procedure, err });
      if (!res.headersSent) refuse(res, new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error' }), procedure);
      else res.destroy();
    });
  }

  /** Ends a stream with `reason`, resolving once its response closed. */
  function endOne(stream: SseStream, reason: SseEnd): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!streams.has(stream.id)) return resolve();
      const closed = setInterval(() => {
        if (!streams.has(stream.id)) {
          clearInterval(closed);
          resolve();
        }
      }, 20);
      stream.end(reason);
    });
  }

  /** The operator's actions (admin.*) reach streams as they reach WebSocket connections, on every node. */
  const stopListening = app.control.listen((message) => {
    const matching = (test: (stream: SseStream) => boolean) => [...streams.values()].filter(test);
    if (message.kind === 'disconnect_user' || message.kind === 'erase_user') {
      for (const stream of matching((s) => s.principal.userId === message.userId)) stream.end('disconnected');
    } else if (message.kind === 'revoke_token') {
      for (const stream of matching((s) => s.principal.jti === message.jti)) stream.end('token_revoked');
    } else if (message.kind === 'revoke_access' && typeof message.at === 'number') {
      const at = message.at;
      const revoked = (s: SseStream) => s.principal.userId === message.userId && s.topic === message.resource && s.principal.issuedAt <= at;
      for (const stream of matching(revoked)) stream.end('access_revoked');
    }
  });

  return {
    handle,

    /** Open streams on this node. */
    get size() {
      return streams.size;
    },

    /** New streams are refused from now on (503 `server_closing`: a load balancer tries another node). */
    stopAccepting() {
      accepting = false;
    },

    /**
     * Ends every stream in waves over the first half of `withinMs` (the
     * EventSource of each reconnects, through the load balancer to another
     * node, and resumes with Last-Event-ID).
     */
    async drain(withinMs: number) {
      accepting = false;
      await inWaves([...streams.values()], withinMs / 2, (stream) => endOne(stream, 'draining'));
    },

    /** Ends every stream (shutdown). */
    async close() {
      accepting = false;
      stopListening();
      await Promise.all([...streams.values()].map((stream) => endOne(stream, 'shutdown')));
    },
  };
}
