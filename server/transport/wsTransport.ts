import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { TRPCError } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import { inputBounds } from '../../shared/limits';
import { type ConnectionType, connectionTypes, paths } from '../../shared/paths';
import type { AppServices } from '../app';
import { verifyToken } from '../auth/verifyToken';
import { apiError } from '../errors';
import { appRouter } from '../routers';
import type { Context } from '../trpc/context';
import { Connection, type ConnectionOptions } from './connection';
import { startKeepAlive } from './keepAlive';
import { RpcSession } from './rpcSession';
import { createJsonWireFormat } from './wireFormat';

/**
 * 96 random bits, unique across nodes (Redis leases are keyed by it), as one
 * flat string: randomUUID's is built of many pieces, each a heap object.
 */
function newConnectionId(): string {
  return randomBytes(12).toString('base64url');
}

function rejectUpgrade(socket: Duplex, status: number, text: string) {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/**
 * The WebSocket endpoint: our own upgrade handling (path, connection type),
 * then tRPC's protocol (rpcSession.ts) with a context that authenticates,
 * counts the user's connections and arms the token's expiry. Closing with
 * 4001 / 4008 is ours to do, as is everything that must be freed on close.
 */
export function attachWsTransport(server: Server, app: AppServices) {
  const { limits } = app.config;
  const { registry, logger, metrics } = app;
  let accepting = true;

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.MAX_MESSAGE_BYTES,
    // Small frames are not worth compressing: ws's threshold default (1 KiB) is kept.
    perMessageDeflate: app.config.perMessageDeflate ? { threshold: 1024 } : false,
  });

  async function createContext(conn: Connection, connectionParams: TRPCRequestInfo['connectionParams']): Promise<Context> {
    const token = connectionParams?.token ?? conn.queryToken;
    conn.queryToken = null;
    const verified = await verifyToken(token, app.jwtKey, app.clock.now());
    if (!verified.ok) {
      logger.info({ event: 'auth_refused', connectionId: conn.id, reason: verified.error.reason });
      conn.closeSoon(CloseCode.UNAUTHORIZED, verified.error.reason);
      throw verified.error;
    }
    conn.principal = verified.principal;
    const { userId } = conn.principal;
    const admitted = await app.connectionCounter.acquire(userId, conn.id);
    if (conn.gone) {
      // The peer left while it was being counted: its close handler found nothing to release.
      if (admitted) void app.connectionCounter.release(userId, conn.id);
      throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'the connection closed while it was being admitted' });
    }
    if (!admitted) {
      logger.info({ event: 'connection_limit', connectionId: conn.id, userId });
      conn.closeSoon(CloseCode.TOO_MANY_CONNECTIONS, 'too_many_connections');
      throw apiError('too_many_connections');
    }
    conn.admitted = true;
    conn.clearTimer('auth');
    app.knownUsers.touch(userId).catch((err: Error) => logger.warn({ event: 'known_users_unavailable', userId, message: err.message }));
    conn.setTimer('expiry', conn.principal.expiresAt - app.clock.now(), () => conn.close(CloseCode.UNAUTHORIZED, 'token_expired'));
    logger.debug({ event: 'authenticated', connectionId: conn.id, userId: conn.principal.userId });
    return { app, principal: conn.principal, connection: conn };
  }

  const format = createJsonWireFormat(appRouter);
  const rpcOptions = {
    router: appRouter,
    format,
    maxBatchSize: inputBounds.callsPerBatch,
    createContext,
    onError(error: TRPCError, path: string | undefined) {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ event: 'procedure_error', path, err: error });
    },
  };
  // One options object for every connection: nothing per connection that can be shared.
  const connectionOptions: ConnectionOptions = {
    maxSubscriptions: limits.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    slowConsumerBytes: limits.SLOW_CONSUMER_BYTES,
    format,
    onSubscriptionsChanged: (delta) => {
      registry.onSubscriptionsChanged(delta);
      metrics.subscriptions.inc(delta);
    },
    onDelivered: (count) => metrics.delivered.inc(count),
    clock: app.clock,
    onSlowConsumer(conn) {
      if (!conn.isOpen) return;
      metrics.slowConsumers.inc();
      logger.warn({ event: 'slow_consumer', connectionId: conn.id, buffered: conn.bufferedAmount });
      // Its subscriptions stop and their queues are freed now; the close frame
      // waits behind what is already buffered, and the client resumes from the
      // last id it read.
      conn.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
    },
  };

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== paths.ws) return rejectUpgrade(socket, 404, 'Not Found');
    if (!accepting) return rejectUpgrade(socket, 503, 'Service Unavailable');
    const type = url.searchParams.get('connection_type') ?? 'general';
    if (!(connectionTypes as readonly string[]).includes(type)) {
      return rejectUpgrade(socket, 400, `connection_type must be one of ${connectionTypes.join(', ')}`);
    }
    const token = url.searchParams.get('token');
    const expectsParams = url.searchParams.get('connectionParams') === '1';
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, socket, type as ConnectionType, token, expectsParams));
  }

  /**
   * Sets up an upgraded connection. A function of its own so that the
   * listeners it leaves on the socket hold only what they use, not the
   * upgrade request.
   */
  function accept(ws: WebSocket, socket: Duplex, type: ConnectionType, token: string | null, expectsParams: boolean) {
    const conn = new Connection(newConnectionId(), ws, socket, type, token, connectionOptions);
    registry.add(conn);
    metrics.connections.inc({ type });
    conn.setTimer('auth', limits.AUTH_TIMEOUT_MS, () => conn.close(CloseCode.UNAUTHORIZED, 'auth_timeout'));
    // A protocol error (oversized or malformed frame) closes the socket by itself; it must not crash the process.
    ws.on('error', (err) => logger.debug({ event: 'ws_error', connectionId: conn.id, message: err.message }));
    ws.on('pong', () => (conn.lastSeen = Date.now()));
    ws.once('close', (code) => {
      conn.gone = true;
      conn.dispose();
      registry.remove(conn);
      if (conn.admitted) void app.connectionCounter.release(conn.principal!.userId, conn.id);
      void app.rateLimiter.forgetConnection(conn.id);
      metrics.connections.dec({ type });
      metrics.closed.inc({ code: String(code) });
      logger.debug({ event: 'closed', connectionId: conn.id, code });
    });
    new RpcSession(conn, expectsParams, rpcOptions);
  }

  server.on('upgrade', onUpgrade);
  const stopKeepAlive = startKeepAlive(registry, {
    pingIntervalMs: limits.PING_INTERVAL_MS,
    peerTimeoutMs: limits.PEER_TIMEOUT_MS,
  });

  return {
    /** Refuses new connections and closes the open ones with 1001 (going away), after flushing. */
    async close() {
      accepting = false;
      stopKeepAlive();
      server.off('upgrade', onUpgrade);
      const closed = [...registry.connections.values()].map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
            conn.ws.once('close', () => resolve());
            conn.close(CloseCode.GOING_AWAY, 'server shutting down');
            // A peer that never answers the close handshake is cut off.
            setTimeout(() => conn.ws.terminate(), 2_000).unref();
          }),
      );
      await Promise.all(closed);
      wss.close();
    },
  };
}
