import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, TRPCError, type TRPCErrorShape } from '@trpc/server';
import { parseConnectionParamsFromUnknown, type TRPCRequestInfo } from '@trpc/server/http';
import { parseTRPCMessage, TRPC_ERROR_CODES_BY_KEY, type TRPCClientOutgoingMessage, type TRPCResponseMessage } from '@trpc/server/rpc';
import type { RawData } from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import { type EventSink, TopicSubscription } from '../bus/topicSubscription';
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
 * A subscription call of the client, from its request to its end; once
 * started, the sink its events are written to. One small object with
 * prototype methods: a server holds one per subscribed client.
 */
class SubscriptionCall implements EventSink {
  /** The client stopped it (or the connection closed) while its procedure was still running. */
  stopped = false;
  /** It ended with an error reply, which replaces `stopped`. */
  failed = false;
  subscription: TopicSubscription<RealtimeEvent> | null = null;
  /** The start of each of its data frames (`{"id":7`), and its length in UTF-8 bytes. */
  prefix = '';
  prefixBytes = 0;

  constructor(
    readonly session: RpcSession,
    readonly id: CallId,
    readonly jsonrpc: JsonRpcMarker,
  ) {}

  write(events: readonly RealtimeEvent[], flushed?: () => void) {
    this.session.conn.writeEvents(this.prefix, this.prefixBytes, events, flushed);
  }

  get busy() {
    return this.session.conn.busy;
  }

  ended() {
    this.session.ended(this);
  }
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
 *
 * A class, not a closure per call site: an idle server holds one per client,
 * and methods on the prototype cost nothing per connection.
 */
export class RpcSession {
  private ctx: Context | undefined;
  private ctxPromise: Promise<Context> | null;
  /** Live subscription calls by request id; created with the first one. */
  private calls: Map<CallId, SubscriptionCall> | null = null;

  constructor(
    readonly conn: Connection,
    expectsConnectionParams: boolean,
    private readonly opts: RpcOptions,
  ) {
    this.ctxPromise = expectsConnectionParams ? null : this.authenticate(() => null);
    conn.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    conn.onClosing = () => this.endAll();
  }

  private respond(message: TRPCResponseMessage) {
    if (this.conn.isOpen) this.conn.ws.send(this.opts.format.encode(message));
  }

  private errorShape(error: TRPCError, type: ProcedureType | 'unknown', path: string | undefined, input: unknown): TRPCErrorShape {
    try {
      return getErrorShape({ config: this.opts.router._def._config, ctx: this.ctx, error, type, path, input });
    } catch (cause) {
      this.opts.onError(getTRPCErrorFromUnknown(cause), path);
      return fallbackErrorShape;
    }
  }

  private respondError(
    id: CallId | null,
    jsonrpc: JsonRpcMarker,
    cause: unknown,
    type: ProcedureType | 'unknown',
    path?: string,
    input?: unknown,
  ) {
    const error = getTRPCErrorFromUnknown(cause);
    this.opts.onError(error, path);
    this.respond({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
  }

  private authenticate(readParams: () => ConnectionParams): Promise<Context> {
    const created = (async () => {
      let params: ConnectionParams;
      try {
        params = readParams();
      } catch (cause) {
        // A first frame that is not a connectionParams message carries no token.
        this.conn.closeSoon(CloseCode.UNAUTHORIZED, 'token_missing');
        throw cause;
      }
      this.ctx = await this.opts.createContext(this.conn, params);
      return this.ctx;
    })();
    created.catch((cause: unknown) => {
      this.respondError(null, undefined, cause, 'unknown');
      // createContext has queued the close with our code; this one only
      // covers a failure it did not foresee.
      this.conn.closeSoon(1011, 'context_failed');
    });
    return created;
  }

  private readConnectionParams(data: RawData, isBinary: boolean): ConnectionParams {
    let msg: unknown;
    try {
      msg = this.opts.format.decode(data, isBinary);
      if (typeof msg !== 'object' || msg === null) throw new Error('not an object');
    } catch (cause) {
      throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage', cause });
    }
    return parseConnectionParamsFromUnknown((msg as { data?: unknown }).data);
  }

  private onMessage(data: RawData, isBinary: boolean) {
    this.conn.lastSeen = Date.now();
    // Text PING/PONG is tRPC's own keepalive, whatever the format.
    if (!isBinary) {
      if (isFrame(data, 'PING')) return this.conn.ws.send('PONG');
      if (isFrame(data, 'PONG')) return;
    }
    if (!this.ctxPromise) {
      // The first frame carries the connectionParams (the URL said so).
      this.ctxPromise = this.authenticate(() => this.readConnectionParams(data, isBinary));
      return;
    }
    const context = this.ctxPromise;
    const calls = this.parseCalls(data, isBinary);
    for (let i = 0; i < calls.length; i++) {
      this.handleCall(calls[i]!, i, context).catch((cause: unknown) => this.opts.onError(getTRPCErrorFromUnknown(cause), undefined));
    }
  }

  private parseCalls(data: RawData, isBinary: boolean): TRPCClientOutgoingMessage[] {
    let decoded: unknown;
    try {
      decoded = this.opts.format.decode(data, isBinary);
    } catch (cause) {
      this.respondError(null, undefined, new TRPCError({ code: 'PARSE_ERROR', cause }), 'unknown');
      return [];
    }
    const raws = Array.isArray(decoded) ? decoded : [decoded];
    if (raws.length > this.opts.maxBatchSize) {
      // Every call of the batch gets the error, so no client waits forever.
      const error = new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
      let answered = false;
      for (const raw of raws) {
        const call = raw as { id?: unknown; method?: unknown; jsonrpc?: unknown } | null;
        if (
          call &&
          typeof call === 'object' &&
          call.method !== 'subscription.stop' &&
          (typeof call.id === 'number' || typeof call.id === 'string')
        ) {
          this.respondError(call.id, call.jsonrpc === '2.0' ? '2.0' : undefined, error, 'unknown');
          answered = true;
        }
      }
      if (!answered) this.respondError(null, undefined, error, 'unknown');
      return [];
    }
    try {
      return raws.map((raw) => parseTRPCMessage(raw, this.opts.router._def._config.transformer));
    } catch (cause) {
      this.respondError(null, undefined, new TRPCError({ code: 'PARSE_ERROR', cause }), 'unknown');
      return [];
    }
  }

  private async handleCall(msg: TRPCClientOutgoingMessage, batchIndex: number, context: Promise<Context>) {
    const { id, jsonrpc } = msg;
    if (id === null) {
      this.respondError(null, jsonrpc, new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' }), 'unknown');
      return;
    }
    if (msg.method === 'subscription.stop') {
      this.stop(id);
      return;
    }
    const type = msg.method;
    const { path, lastEventId } = msg.params;
    let { input } = msg.params;
    // As tRPC's adapter: the id of the last tracked event is merged into the input.
    if (lastEventId !== undefined) {
      input = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    if (type === 'subscription' && this.calls?.has(id)) {
      this.respondError(id, jsonrpc, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }), type, path, input);
      return;
    }
    // Registered before any await, so a stop or a disconnect during
    // authentication or the procedure's setup cancels the subscription.
    let call: SubscriptionCall | null = null;
    if (type === 'subscription') {
      call = new SubscriptionCall(this, id, jsonrpc);
      this.calls ??= new Map();
      this.calls.set(id, call);
    }

    let result: unknown;
    try {
      const ctx = await context;
      if (call?.stopped) throw new Error('stopped before it started');
      // No signal: the session owns the subscription and closes it on stop or disconnect.
      result = await callTRPCProcedure({
        router: this.opts.router,
        path,
        getRawInput: async () => input,
        ctx,
        type,
        batchIndex,
        signal: undefined,
      });
    } catch (cause) {
      if (!call) return this.respondError(id, jsonrpc, cause, type, path, input);
      this.forget(call);
      if (call.stopped) this.respond({ id, jsonrpc, result: { type: 'stopped' } });
      else this.respondError(id, jsonrpc, cause, type, path, input);
      return;
    }

    if (!call) {
      if (result instanceof TopicSubscription) {
        result.close();
        const message = `Cannot return a subscription from a ${type} procedure`;
        return this.respondError(id, jsonrpc, new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message }), type, path, input);
      }
      return this.respond({ id, jsonrpc, result: { type: 'data', data: result } });
    }
    if (!(result instanceof TopicSubscription)) {
      this.forget(call);
      const message = `Subscription ${path} did not return a bus subscription (see server/routers/subscribe.ts)`;
      return this.respondError(id, jsonrpc, new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message }), type, path, input);
    }
    this.deliver(call, result as TopicSubscription<RealtimeEvent>, path, input);
  }

  /** Streams a bus subscription to the client until it ends, however it ends (`ended`). */
  private deliver(call: SubscriptionCall, subscription: TopicSubscription<RealtimeEvent>, path: string, input: unknown) {
    call.subscription = subscription;
    if (call.stopped || !this.conn.isOpen) {
      subscription.close();
      return this.ended(call);
    }
    this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'started' } });
    call.prefix = this.opts.format.prefix(call.id, call.jsonrpc);
    call.prefixBytes = Buffer.byteLength(call.prefix);
    subscription.start(call).catch((cause: unknown) => {
      call.failed = true;
      this.respondError(call.id, call.jsonrpc, cause, 'subscription', path, input);
      subscription.close();
    });
  }

  /** A subscription call ended: the client learns it (unless an error said so, or the socket is closing). */
  ended(call: SubscriptionCall) {
    if (!this.forget(call)) return;
    if (!call.failed) this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } });
  }

  private stop(id: CallId) {
    const call = this.calls?.get(id);
    if (!call) return;
    call.stopped = true;
    call.subscription?.close();
  }

  /** Drops the call from the live ones; false when it was not there (any more). */
  private forget(call: SubscriptionCall): boolean {
    if (this.calls?.get(call.id) !== call) return false;
    this.calls.delete(call.id);
    if (this.calls.size === 0) this.calls = null;
    return true;
  }

  /** The connection is closing: every subscription ends now (nothing is sent: the socket is closing). */
  private endAll() {
    const calls = this.calls;
    if (!calls) return;
    for (const call of [...calls.values()]) {
      call.stopped = true;
      call.subscription?.close();
    }
    this.calls = null;
  }
}
