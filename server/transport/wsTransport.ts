import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { TRPCError } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import type { ErrorMetricReason } from '../../shared/errors';
import type { DialectTarget } from '../../shared/jsonDialect';
import { inputBounds } from '../../shared/limits';
import { type ConnectionType, connectionTypes, paths } from '../../shared/paths';
import type { AppServices } from '../app';
import { authenticateToken } from '../auth/authenticate';
import { apiError } from '../errors';
import { TokenBucket } from '../limits/tokenBucket';
import { createRefusalLog } from '../observability/refusalLog';
import { appRouter } from '../routers';
import type { Context } from '../trpc/context';
import { Connection, type ConnectionOptions, ConnectionSocket } from './connection';
import { DialectSwitch, type Dialects } from './dialectSwitch';
import { inWaves } from './inWaves';
import { JsonSession, type JsonSessionOptions } from './jsonSession';
import { startKeepAlive } from './keepAlive';
import { type RpcOptions, RpcSession } from './rpcSession';
import { createUpgradeGuard, type UpgradeRefusal } from './upgradeGuard';
import { createDialectWireFormat, createJsonWireFormat } from './wireFormat';

/** A connection id's random bytes, and how many ids one draw from OpenSSL serves. */
const ID_BYTES = 12;
const IDS_PER_DRAW = 64;
let idPool = Buffer.alloc(0);
let idNext = 0;

/**
 * 96 random bits, unique across nodes (Redis leases are keyed by it), as one
 * flat string: randomUUID's is built of many pieces, each a heap object. The
 * bytes are drawn for 64 ids at a time: a draw per connection was about 2 %
 * of what accepting one cost in the connect-storm benchmark.
 */
function newConnectionId(): string {
  if (idNext >= idPool.length) {
    idPool = randomBytes(ID_BYTES * IDS_PER_DRAW);
    idNext = 0;
  }
  idNext += ID_BYTES;
  return idPool.toString('base64url', idNext - ID_BYTES, idNext);
}

function rejectUpgrade(socket: Duplex, status: number, text: string) {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** How each refusal of the upgrade guard counts in `websocket_errors_total`. */
const upgradeRefusalMetric: Record<UpgradeRefusal, ErrorMetricReason> = {
  too_many_attempts: 'rate_limited',
  origin_not_allowed: 'forbidden',
  server_full: 'unavailable',
  too_many_pending: 'too_many_connections',
};

/** The seed's per-resource paths: `/api/v1/ws/<kind>/<id>`. */
const resourceKinds: Record<string, 'investigation' | 'analysis' | 'chat'> = {
  investigations: 'investigation',
  analysis: 'analysis',
  chat: 'chat',
};

/** The resource a per-resource path names, or undefined when the path is not one of ours. */
function resourceOf(pathname: string): Extract<DialectTarget, { id: string }> | undefined {
  if (!pathname.startsWith(`${paths.ws}/`)) return undefined;
  const parts = pathname.slice(paths.ws.length + 1).split('/');
  if (parts.length !== 2 || parts[1] === '') return undefined;
  const kind = Object.hasOwn(resourceKinds, parts[0]!) ? resourceKinds[parts[0]!] : undefined;
  if (kind === undefined) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(parts[1]!);
  } catch {
    return undefined;
  }
  return { kind, id };
}

/**
 * The WebSocket endpoint: our own upgrade handling (path, connection type),
 * then a bounded connection (connection.ts: the incoming budget, the outbound
 * bound, timers, the one way to end) running tRPC's protocol (rpcSession.ts)
 * with a context that authenticates, counts the user's connections and arms
 * the token's expiry. Closing with our codes is ours to do, as is everything
 * that must be freed on close.
 */
export function attachWsTransport(server: Server, app: AppServices) {
  const { limits } = app.config;
  const { registry, logger, metrics } = app;
  let accepting = true;
  const logUpgradeRefused = createRefusalLog(logger, 'upgrade_refused');
  const guard = createUpgradeGuard({
    maxPendingPerIp: limits.MAX_PENDING_PER_IP,
    attemptsPerIpPerMinute: limits.CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE,
    maxConnections: limits.MAX_CONNECTIONS,
    trustProxy: app.config.trustProxy,
    allowedOrigins: app.config.allowedOrigins,
    openConnections: () => registry.connections.size,
  });

  const wss = new WebSocketServer<typeof ConnectionSocket>({
    noServer: true,
    WebSocket: ConnectionSocket,
    maxPayload: limits.MAX_MESSAGE_BYTES,
    // Pings are frames like any other: answered by the connection once they paid for themselves.
    autoPong: false,
    // The registry holds the connections; ws's own set would be a second entry (and a closure) per connection.
    clientTracking: false,
    // Small frames are not worth compressing: ws's threshold default (1 KiB) is kept.
    perMessageDeflate: app.config.perMessageDeflate ? { threshold: 1024 } : false,
  });

  /**
   * A connection's authentication, whatever its dialect: verifies the token,
   * counts the connection for its user (4008 past the limit), arms the
   * token's expiry. Memoized per connection: `?token=` on `/api/v1/ws` is
   * verified at connect, before the first frame tells the dialect, and the
   * session chosen then gets that same authentication.
   */
  const authentications = new WeakMap<Connection, Promise<Context>>();
  function authenticate(conn: Connection, token: string | null | undefined): Promise<Context> {
    let context = authentications.get(conn);
    if (context === undefined) {
      context = admitConnection(conn, token ?? null);
      authentications.set(conn, context);
    }
    return context;
  }

  function createContext(conn: Connection, connectionParams: TRPCRequestInfo['connectionParams'], queryToken: string | null) {
    return authenticate(conn, connectionParams?.token ?? queryToken);
  }

  async function admitConnection(conn: Connection, token: string | null) {
    const verified = await authenticateToken(app, token);
    if (!verified.ok) {
      // Reported now: a token given in the URL fails before any call could be answered.
      app.reportError(verified.error, undefined, { connectionId: conn.id, remoteAddress: conn.clientAddress });
      conn.endSoon(CloseCode.UNAUTHORIZED, verified.error.reason);
      throw verified.error;
    }
    const { principal } = verified;
    const { userId } = principal;
    const admitted = await app.connectionCounter.acquire(userId, conn.id);
    if (conn.isEnded) {
      // The peer left while it was being counted: its close handler found nothing to release.
      if (admitted) void app.connectionCounter.release(userId, conn.id);
      throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'the connection closed while it was being admitted' });
    }
    if (!admitted) {
      const refused = apiError('too_many_connections');
      app.reportError(refused, undefined, { connectionId: conn.id, userId, remoteAddress: conn.clientAddress });
      conn.endSoon(CloseCode.TOO_MANY_CONNECTIONS, 'too_many_connections');
      throw refused;
    }
    if (principal.jti !== null && app.admin.tokenRevokedLocally(principal.jti)) {
      // Revoked while it was being counted: the broadcast found no connection of it to close.
      void app.connectionCounter.release(userId, conn.id);
      const revoked = apiError('token_revoked');
      app.reportError(revoked, undefined, { connectionId: conn.id, userId, remoteAddress: conn.clientAddress });
      conn.endSoon(CloseCode.UNAUTHORIZED, 'token_revoked');
      throw revoked;
    }
    conn.admit(principal);
    if (conn.admitted) guard.authenticated(conn.clientAddress);
    app.knownUsers.touch(userId).catch((err: Error) => logger.warn({ event: 'known_users_unavailable', userId, message: err.message }));
    logger.debug({ event: 'authenticated', connectionId: conn.id, userId });
    const context: Context = { app, principal, connection: conn };
    return context;
  }

  const format = createJsonWireFormat(appRouter);
  const rpcOptions: RpcOptions = {
    router: appRouter,
    format,
    maxBatchSize: inputBounds.callsPerBatch,
    maxSubscriptions: limits.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    createContext,
    onError: app.reportError,
    subscriptionsChanged(delta) {
      registry.onSubscriptionsChanged(delta);
      metrics.subscriptions.inc(delta);
    },
    access: app.admin.subscriptionAccess,
  };
  const jsonOptions: JsonSessionOptions = {
    router: appRouter,
    format: createDialectWireFormat(),
    maxSubscriptions: limits.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    authenticate,
    onError: rpcOptions.onError,
    subscriptionsChanged: rpcOptions.subscriptionsChanged,
    access: rpcOptions.access,
  };
  const dialects: Dialects = {
    rpc: (conn, queryToken, expectsConnectionParams) => new RpcSession(conn, queryToken, expectsConnectionParams, rpcOptions),
    json: (conn, context) => new JsonSession(conn, jsonOptions, context),
    authenticate,
  };
  // One options object for every connection: nothing per connection that can be shared.
  const connectionOptions: ConnectionOptions = {
    bucket: new TokenBucket(limits.RATE_LIMIT_PER_SECOND, limits.RATE_LIMIT_BURST),
    closeOverBudgetAfterMs: limits.RATE_LIMIT_CLOSE_AFTER_MS,
    slowConsumerBytes: limits.SLOW_CONSUMER_BYTES,
    authTimeoutMs: limits.AUTH_TIMEOUT_MS,
    clock: app.clock,
    logger,
    metrics,
  };

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const resource = url.pathname === paths.ws ? null : resourceOf(url.pathname);
    if (resource === undefined) return rejectUpgrade(socket, 404, 'Not Found');
    if (!accepting) {
      // Draining: the load balancer tries another node (proxy_next_upstream http_503).
      metrics.upgradesRefused.inc({ reason: 'draining' });
      return rejectUpgrade(socket, 503, 'Service Unavailable');
    }
    // A per-resource connection's type is its resource's kind (the connection types are named after them).
    const type = resource ? resource.kind : (url.searchParams.get('connection_type') ?? 'general');
    if (!(connectionTypes as readonly string[]).includes(type)) {
      return rejectUpgrade(socket, 400, `connection_type must be one of ${connectionTypes.join(', ')}`);
    }
    const token = url.searchParams.get('token');
    const expectsParams = url.searchParams.get('connectionParams') === '1';
    // Last: every refusal above holds nothing, and an admitted socket must reach accept (or be released).
    const admission = guard.admit(req);
    if (!admission.ok) {
      metrics.upgradesRefused.inc({ reason: admission.reason });
      metrics.error(upgradeRefusalMetric[admission.reason]);
      // A line a second per reason: a connect flood must not become a log flood.
      logUpgradeRefused(admission.reason);
      return rejectUpgrade(socket, admission.status, admission.text);
    }
    const { address } = admission;
    let upgraded = false;
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      accept(ws, socket, type as ConnectionType, token, expectsParams, address, resource);
    });
    // ws refused the handshake itself (bad key or version, peer already gone): synchronously, without calling back.
    if (!upgraded) guard.closed(address, true);
  }

  /**
   * Sets up an upgraded connection. A function of its own so that nothing it
   * leaves behind holds the upgrade request; the socket's listeners are
   * functions shared by every connection.
   */
  function accept(
    ws: ConnectionSocket,
    socket: Duplex,
    type: ConnectionType,
    token: string | null,
    expectsParams: boolean,
    address: string,
    resource: DialectTarget | null,
  ) {
    const conn = new Connection(newConnectionId(), ws, socket, type, address, connectionOptions);
    registry.add(conn);
    metrics.connections.inc({ type });
    metrics.opened.inc({ type });
    logger.info({ event: 'connection_opened', connectionId: conn.id, remoteAddress: address, type });
    // A protocol error (oversized or malformed frame) closes the socket by itself; it must not crash the process.
    ws.on('error', onSocketError);
    ws.once('close', onSocketClose);
    if (resource) {
      // The seed's per-resource paths speak only its dialect, subscribed to their resource at connect.
      const context = token === null ? null : authenticate(conn, token);
      conn.start(new JsonSession(conn, jsonOptions, context, resource));
    } else {
      // Without any token the first frame still decides: the JSON dialect's
      // `auth` frame may carry it; a tRPC frame is refused (token_missing), and
      // a socket that sends nothing is closed at AUTH_TIMEOUT_MS (4001).
      conn.start(new DialectSwitch(conn, token, expectsParams, dialects));
    }
  }

  /** A protocol error: ws closes the socket itself; the connection ends with ws's code, counted and logged as ours are. */
  function onSocketError(this: WebSocket, err: Error & { code?: string }) {
    const code =
      err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? CloseCode.MESSAGE_TOO_BIG
        : err.code === 'WS_ERR_INVALID_UTF8'
          ? CloseCode.INVALID_PAYLOAD
          : CloseCode.PROTOCOL_ERROR;
    (this as ConnectionSocket).connection?.end(code, err.code ?? err.message);
  }

  /** The socket closed, whoever closed it: the connection ends (if it had not) and what it held is released. */
  function onSocketClose(this: WebSocket, code: number, reason: Buffer) {
    const conn = (this as ConnectionSocket).connection;
    if (!conn) return;
    conn.end();
    registry.remove(conn);
    if (conn.admitted) void app.connectionCounter.release(conn.principal!.userId, conn.id);
    guard.closed(conn.clientAddress, !conn.admitted);
    metrics.connections.dec({ type: conn.type });
    // The code this side closed with, when it did: the peer may never have answered (1006).
    const closeCode = conn.closedWith ?? code;
    metrics.closed.inc({ code: String(closeCode) });
    logger.info({
      event: 'connection_closed',
      ...conn.describe(),
      type: conn.type,
      code: closeCode,
      reason: reason.toString(),
      durationMs: Date.now() - conn.openedAt,
    });
  }

  server.on('upgrade', onUpgrade);
  const stopKeepAlive = startKeepAlive(registry, {
    pingIntervalMs: limits.PING_INTERVAL_MS,
    peerTimeoutMs: limits.PEER_TIMEOUT_MS,
  });

  /**
   * Closes `conn` with `code`, resolving once its socket closed; a peer that
   * does not answer the closing handshake within `graceMs` is cut off.
   */
  function closeOne(conn: Connection, code: number, reason: string, graceMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
      conn.ws.once('close', () => resolve());
      conn.end(code, reason);
      setTimeout(() => conn.ws.terminate(), graceMs).unref();
    });
  }

  return {
    /** Upgrades are refused from now on (503: a load balancer tries another node). */
    stopAccepting() {
      accepting = false;
    },

    /**
     * Closes every open connection with 1012 (reconnect elsewhere, resume),
     * in waves spread over the first half of `withinMs`, so that a node's
     * thousands of clients do not all reconnect in the same millisecond; the
     * rest of the time is for their closing handshakes, after which a silent
     * peer is cut off. Resolves once every socket closed.
     */
    async drain(withinMs: number) {
      accepting = false;
      const all = [...registry.connections.values()];
      const deadline = Date.now() + withinMs;
      logger.info({ event: 'drain_closing', connections: all.length });
      await inWaves(
        all,
        withinMs / 2,
        (conn) => closeOne(conn, CloseCode.SERVICE_RESTART, 'node draining', Math.max(0, deadline - Date.now())),
        (wave, of, closed) => logger.info({ event: 'drain_wave', wave, of, closed }),
      );
    },

    /** Refuses new connections and closes the open ones with 1001 (going away), after flushing. */
    async close() {
      accepting = false;
      guard.close();
      stopKeepAlive();
      server.off('upgrade', onUpgrade);
      await Promise.all(
        [...registry.connections.values()].map((conn) => closeOne(conn, CloseCode.GOING_AWAY, 'server shutting down', 2_000)),
      );
      wss.close();
    },
  };
}
