import {
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  type TRPCErrorShape,
} from '@trpc/server';
import { parseConnectionParamsFromUnknown, type TRPCRequestInfo } from '@trpc/server/http';
import {
  parseTRPCMessage,
  TRPC_ERROR_CODES_BY_KEY,
  type TRPCClientOutgoingMessage,
  type TRPCResponseMessage,
} from '@trpc/server/rpc';
import type { RawData } from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import { TopicSubscription } from '../bus/subscription';
import type { AppRouter } from '../routers';
import type { Context } from '../trpc/context';
import type { Connection } from './connection';
import type { CallId, JsonRpcMarker, WireFormat } from './wireFormat';

type ConnectionParams = TRPCRequestInfo['connectionParams'];
type ProcedureType = 'query' | 'mutation' | 'subscription';

export interface RpcOptions {
  router: AppRouter;
  format: WireFormat;
  /** Calls in one array frame; a larger batch is refused as a whole. */
  maxBatchSize: number;
  /**
   * Authenticates the connection (once, with its connectionParams, or null
   * when it sends none). On refusal it arranges the close with our code and
   * throws; every call of the connection then gets that error.
   */
  createContext: (conn: Connection, connectionParams: ConnectionParams) => Promise<Context>;
  /** Errors worth the server's attention (the client gets its own copy). */
  onError: (error: TRPCError, path: string | undefined) => void;
}

/** What the client gets when its error cannot be formatted: nothing about the error. */
const fallbackErrorShape: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

function isFrame(data: RawData, text: 'PING' | 'PONG'): boolean {
  return Buffer.isBuffer(data) && data.length === 4 && data.toString('latin1') === text;
}

/**
 * tRPC's WebSocket protocol on one connection — the messages of
 * @trpc/server/adapters/ws, so the stock `wsLink` works unchanged — built
 * from tRPC's exported pieces (message parsing, procedure calls, error
 * shapes). What differs is delivery: a subscription procedure returns a bus
 * subscription (routers/subscribe.ts), and its batches are written straight
 * to the socket as pre-encoded frames, with no iterator, promise or
 * serialization per subscriber and event. Subscriptions that return anything
 * else are refused: every subscription of the contract goes through the bus.
 */
export function serveRpc(conn: Connection, expectsConnectionParams: boolean, opts: RpcOptions) {
  const { router, format } = opts;
  const config = router._def._config;
  let ctx: Context | undefined;
  let ctxPromise: Promise<Context> | null = expectsConnectionParams ? null : authenticate(() => null);
  /** Live subscriptions by request id; a `subscription.stop` aborts one. */
  const subscriptions = new Map<CallId, AbortController>();

  function respond(message: TRPCResponseMessage) {
    if (conn.isOpen) conn.ws.send(format.encode(message));
  }

  function errorShape(error: TRPCError, type: ProcedureType | 'unknown', path: string | undefined, input: unknown): TRPCErrorShape {
    try {
      return getErrorShape({ config, ctx, error, type, path, input });
    } catch (cause) {
      opts.onError(getTRPCErrorFromUnknown(cause), path);
      return fallbackErrorShape;
    }
  }

  function respondError(id: CallId | null, jsonrpc: JsonRpcMarker, cause: unknown, type: ProcedureType | 'unknown', path?: string, input?: unknown) {
    const error = getTRPCErrorFromUnknown(cause);
    opts.onError(error, path);
    respond({ id, jsonrpc, error: errorShape(error, type, path, input) });
  }

  function authenticate(readParams: () => ConnectionParams): Promise<Context> {
    const created = (async () => {
      let params: ConnectionParams;
      try {
        params = readParams();
      } catch (cause) {
        // A first frame that is not a connectionParams message carries no token.
        conn.closeSoon(CloseCode.UNAUTHORIZED, 'token_missing');
        throw cause;
      }
      ctx = await opts.createContext(conn, params);
      return ctx;
    })();
    created.catch((cause: unknown) => {
      respondError(null, undefined, cause, 'unknown');
      // createContext has queued the close with our code; this one only
      // covers a failure it did not foresee.
      conn.closeSoon(1011, 'context_failed');
    });
    return created;
  }

  function readConnectionParams(data: RawData, isBinary: boolean): ConnectionParams {
    let msg: unknown;
    try {
      msg = format.decode(data, isBinary);
      if (typeof msg !== 'object' || msg === null) throw new Error('not an object');
    } catch (cause) {
      throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage', cause });
    }
    return parseConnectionParamsFromUnknown((msg as { data?: unknown }).data);
  }

  function parseCalls(data: RawData, isBinary: boolean): TRPCClientOutgoingMessage[] {
    let decoded: unknown;
    try {
      decoded = format.decode(data, isBinary);
    } catch (cause) {
      respondError(null, undefined, new TRPCError({ code: 'PARSE_ERROR', cause }), 'unknown');
      return [];
    }
    const raws = Array.isArray(decoded) ? decoded : [decoded];
    if (raws.length > opts.maxBatchSize) {
      // Every call of the batch gets the error, so no client waits forever.
      const error = new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
      let answered = false;
      for (const raw of raws) {
        const call = raw as { id?: unknown; method?: unknown; jsonrpc?: unknown } | null;
        if (call && typeof call === 'object' && call.method !== 'subscription.stop' && (typeof call.id === 'number' || typeof call.id === 'string')) {
          respondError(call.id, call.jsonrpc === '2.0' ? '2.0' : undefined, error, 'unknown');
          answered = true;
        }
      }
      if (!answered) respondError(null, undefined, error, 'unknown');
      return [];
    }
    try {
      return raws.map((raw) => parseTRPCMessage(raw, config.transformer));
    } catch (cause) {
      respondError(null, undefined, new TRPCError({ code: 'PARSE_ERROR', cause }), 'unknown');
      return [];
    }
  }

  async function handleCall(msg: TRPCClientOutgoingMessage, batchIndex: number, context: Promise<Context>) {
    const { id, jsonrpc } = msg;
    if (id === null) {
      respondError(null, jsonrpc, new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' }), 'unknown');
      return;
    }
    if (msg.method === 'subscription.stop') {
      subscriptions.get(id)?.abort();
      return;
    }
    const type = msg.method;
    const { path, lastEventId } = msg.params;
    let { input } = msg.params;
    // As tRPC's adapter: the id of the last tracked event is merged into the input.
    if (lastEventId !== undefined) {
      input = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    if (type === 'subscription' && subscriptions.has(id)) {
      respondError(id, jsonrpc, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }), type, path, input);
      return;
    }
    // Registered before any await, so a stop or a disconnect during
    // authentication or the procedure's setup cancels the subscription.
    const controller = type === 'subscription' ? new AbortController() : null;
    if (controller) subscriptions.set(id, controller);

    let result: unknown;
    try {
      const procedureCtx = await context;
      if (controller && (controller.signal.aborted || !conn.isOpen)) throw new CancelledSetup();
      result = await callTRPCProcedure({
        router,
        path,
        getRawInput: async () => input,
        ctx: procedureCtx,
        type,
        signal: controller?.signal,
        batchIndex,
      });
    } catch (cause) {
      if (controller) subscriptions.delete(id);
      if (controller?.signal.aborted) respond({ id, jsonrpc, result: { type: 'stopped' } });
      else respondError(id, jsonrpc, cause, type, path, input);
      return;
    }

    if (!controller) {
      if (result instanceof TopicSubscription) {
        result.close();
        respondError(id, jsonrpc, new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `Cannot return a subscription from a ${type} procedure` }), type, path, input);
        return;
      }
      respond({ id, jsonrpc, result: { type: 'data', data: result } });
      return;
    }
    if (!(result instanceof TopicSubscription)) {
      subscriptions.delete(id);
      const message = `Subscription ${path} did not return a bus subscription (see server/routers/subscribe.ts)`;
      respondError(id, jsonrpc, new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message }), type, path, input);
      return;
    }
    deliver(id, jsonrpc, controller, result, path, input);
  }

  /** Streams a bus subscription to the client until it ends, however it ends. */
  function deliver(id: CallId, jsonrpc: JsonRpcMarker, controller: AbortController, subscription: TopicSubscription<RealtimeEvent>, path: string, input: unknown) {
    let failed = false;
    subscription.whenClosed(() => {
      if (subscriptions.get(id) === controller) subscriptions.delete(id);
      if (!failed) respond({ id, jsonrpc, result: { type: 'stopped' } });
    });
    // The procedure's signal ends the subscription (routers/subscribe.ts
    // leases on it); this covers one that was aborted during the setup.
    if (controller.signal.aborted || !conn.isOpen) {
      subscription.close();
      return;
    }
    respond({ id, jsonrpc, result: { type: 'started' } });
    const prefix = format.prefix(id, jsonrpc);
    subscription
      .start({ write: (events) => conn.writeEvents(prefix, events), drained: () => conn.drained() })
      .catch((cause: unknown) => {
        failed = true;
        respondError(id, jsonrpc, cause, 'subscription', path, input);
        subscription.close();
      });
  }

  conn.ws.on('message', (data, isBinary) => {
    // Text PING/PONG is tRPC's own keepalive, whatever the format.
    if (!isBinary) {
      if (isFrame(data, 'PING')) return conn.ws.send('PONG');
      if (isFrame(data, 'PONG')) return;
    }
    if (!ctxPromise) {
      // The first frame carries the connectionParams (the URL said so).
      ctxPromise = authenticate(() => readConnectionParams(data, isBinary));
      return;
    }
    const context = ctxPromise;
    const calls = parseCalls(data, isBinary);
    for (let i = 0; i < calls.length; i++) {
      handleCall(calls[i]!, i, context).catch((cause: unknown) => opts.onError(getTRPCErrorFromUnknown(cause), undefined));
    }
  });

  conn.ws.once('close', () => {
    for (const controller of subscriptions.values()) controller.abort();
    subscriptions.clear();
  });
}

/** A subscription stopped (or its connection closed) before its procedure ran. */
class CancelledSetup extends Error {}
