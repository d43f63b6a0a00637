import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, TRPCError, type TRPCErrorShape } from '@trpc/server';
import { parseConnectionParamsFromUnknown, type TRPCRequestInfo } from '@trpc/server/http';
import { parseTRPCMessage, TRPC_ERROR_CODES_BY_KEY, type TRPCClientOutgoingMessage, type TRPCResponseMessage } from '@trpc/server/rpc';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import type { SubscriptionAccess } from '../admin/adminService';
import { type EventSink, TopicSubscription } from '../bus/topicSubscription';
import { type ApiError, apiError, reasonOf } from '../errors';
import type { ErrorReporter } from '../observability/errorReporter';
import type { AppRouter } from '../routers';
import type { Context } from '../trpc/context';
import { bounded, errorBounds } from '../trpc/errorBounds';
import type { Connection, ProtocolSession } from './connection';
import type { CallId, JsonRpcMarker, WireFormat } from './wireFormat';

type ConnectionParams = TRPCRequestInfo['connectionParams'];
type ProcedureType = 'query' | 'mutation' | 'subscription';

export interface RpcOptions {
  router: AppRouter;
  format: WireFormat;
  /** Calls in one array frame; a larger batch is refused as a whole. */
  maxBatchSize: number;
  /** Subscriptions one connection may hold (those still starting included). */
  maxSubscriptions: number;
  /**
   * Authenticates the connection (once, with its connectionParams, or null
   * when it sends none; `queryToken` is the URL's `?token=`). On refusal it
   * arranges the close with our code and throws; every call of the connection
   * then gets that error.
   */
  createContext: (conn: Connection, connectionParams: ConnectionParams, queryToken: string | null) => Promise<Context>;
  /** Errors worth the server's attention (the client gets its own, bounded copy). */
  /** Every error answered (counted and logged by the server: observability/errorReporter.ts). */
  onError: ErrorReporter;
  /** Live subscriptions changed by `delta` (the registry's count and the gauge). */
  subscriptionsChanged: (delta: 1 | -1) => void;
  /** Operator revocations a subscription must pass before it goes live (admin.revokeAccess). */
  access?: SubscriptionAccess;
}

/** What the client gets when its error cannot be formatted: nothing about the error. */
const fallbackErrorShape: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'internal error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

function isText(data: Buffer, text: 'PING' | 'PONG'): boolean {
  return data.length === 4 && data.toString('latin1') === text;
}

/** A request id the client may have echoed back: tRPC's (a number or a string), of bounded length. */
function hasEchoableId(msg: TRPCClientOutgoingMessage): boolean {
  return typeof msg.id !== 'string' || msg.id.length <= errorBounds.textChars;
}

/** A subscription procedure's result that is not a bus subscription but can be iterated (presence.onChange). */
function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}

/**
 * A subscription call of the client, from its request to its end; once
 * started, the sink its events are written to (encoded by the session,
 * written by the connection). One small object with prototype methods: a
 * server holds one per subscribed client.
 */
class SubscriptionCall implements EventSink {
  /** The client stopped it (or the connection ended) while its procedure was still running. */
  stopped = false;
  /** Its bus subscription, or the closer of an iterated one (see `iterate`); null until live. */
  subscription: { close(): void } | null = null;
  /** The start of each of its data frames (`{"id":7`), and its length in UTF-8 bytes. */
  prefix = '';
  prefixBytes = 0;

  constructor(
    readonly session: RpcSession,
    readonly id: CallId,
    readonly jsonrpc: JsonRpcMarker,
  ) {}

  write(events: readonly RealtimeEvent[], live: boolean, flushed?: () => void) {
    this.session.writeEvents(this, events, live, flushed);
  }

  get busy() {
    return this.session.conn.busy;
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
 * The session owns its subscriptions: a stop from the client, a failed
 * start and the connection's end each end them here, and only here (the slot
 * is released, `stopped` or the error is sent, the subscription leaves its
 * topic). Every frame it is handed was paid for by the connection's budget;
 * a frame that is not a call is answered only when the connection was
 * rested (see `Connection.rested`), so a stream of junk costs no reply each.
 *
 * A class, not a closure per call site: an idle server holds one per client,
 * and methods on the prototype cost nothing per connection.
 */
export class RpcSession implements ProtocolSession {
  private ctx: Context | undefined;
  private ctxPromise: Promise<Context> | null = null;
  /** Subscription calls by request id, starting or live; created with the first one. */
  private calls: Map<CallId, SubscriptionCall> | null = null;
  private ended = false;

  constructor(
    readonly conn: Connection,
    /** The URL's `?token=`, used when connectionParams carry none; dropped once read. */
    private queryToken: string | null,
    expectsConnectionParams: boolean,
    private readonly opts: RpcOptions,
  ) {
    if (!expectsConnectionParams) this.ctxPromise = this.authenticate(() => null);
  }

  receive(data: Buffer, isBinary: boolean) {
    if (this.ended) return;
    // Text PING/PONG is tRPC's own keepalive, whatever the format.
    if (!isBinary && isText(data, 'PING')) return this.pong();
    if (!isBinary && isText(data, 'PONG')) return;
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

  /** The connection ended: every subscription ends now, and nothing is sent (the socket is closing). */
  end() {
    if (this.ended) return;
    this.ended = true;
    const calls = this.calls;
    this.calls = null;
    if (!calls) return;
    for (const call of calls.values()) {
      call.stopped = true;
      this.release(call);
    }
  }

  /**
   * admin.revokeAccess: every live subscription to `topic` ends now, with an
   * error response for its call id (the client's subscription ends there).
   */
  revokeTopic(topic: string, error: ApiError): number {
    if (this.ended || !this.calls) return 0;
    let ended = 0;
    for (const call of [...this.calls.values()]) {
      const subscription = call.subscription;
      if (!(subscription instanceof TopicSubscription) || subscription.topic !== topic) continue;
      this.forget(call);
      this.release(call);
      this.respondError(call.id, call.jsonrpc, error, 'subscription');
      ended++;
    }
    return ended;
  }

  /**
   * Writes one data frame per event (the client reads one response per
   * frame) for `call`: its prefix, then each event's tail, encoded once for
   * all its subscribers.
   */
  writeEvents(call: SubscriptionCall, events: readonly RealtimeEvent[], live: boolean, flushed?: () => void) {
    this.conn.writeFrames(call.prefix, call.prefixBytes, this.opts.format.tails(events, live), events, live, flushed);
  }

  /** A text PING is answered once the connection is authenticated, never before. */
  private pong() {
    if (this.ctx) return this.conn.send('PONG');
    this.ctxPromise?.then(
      () => this.conn.send('PONG'),
      () => undefined,
    );
  }

  private respond(message: TRPCResponseMessage) {
    this.conn.send(this.opts.format.encode(message));
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
    this.opts.onError(error, path, this.conn.describe());
    const shape = this.errorShape(error, type, path, input);
    let text = this.opts.format.encode({ id, jsonrpc, error: shape });
    if (text.length > errorBounds.frameChars) {
      // The formatter bounds every part; this bounds the whole, whatever a procedure put in it.
      const { code, message } = shape;
      const data = { code: error.code, reason: reasonOf(error) ?? null };
      text = this.opts.format.encode({ id, jsonrpc, error: { code, message: bounded(message), data } });
    }
    this.conn.send(text);
  }

  /** A frame that is not a call: PARSE_ERROR, answered only when the connection was rested (see the class comment), counted always. */
  private malformed(message: string, jsonrpc: JsonRpcMarker = undefined) {
    const error = new TRPCError({ code: 'PARSE_ERROR', message });
    if (this.conn.rested) this.respondError(null, jsonrpc, error, 'unknown');
    else this.opts.onError(error, undefined, this.conn.describe());
  }

  private authenticate(readParams: () => ConnectionParams): Promise<Context> {
    const created = (async () => {
      let params: ConnectionParams;
      try {
        params = readParams();
      } catch (cause) {
        // A first frame that is not a connectionParams message carries no token.
        this.conn.endSoon(CloseCode.UNAUTHORIZED, 'token_missing');
        throw cause;
      }
      const queryToken = this.queryToken;
      this.queryToken = null;
      this.ctx = await this.opts.createContext(this.conn, params, queryToken);
      return this.ctx;
    })();
    created.catch((cause: unknown) => {
      if (this.ended) return;
      this.respondError(null, undefined, cause, 'unknown');
      // createContext has queued the close with our code; this one only
      // covers a failure it did not foresee.
      this.conn.endSoon(1011, 'context_failed');
    });
    return created;
  }

  private readConnectionParams(data: Buffer, isBinary: boolean): ConnectionParams {
    let msg: unknown;
    try {
      msg = this.opts.format.decode(data, isBinary);
      if (typeof msg !== 'object' || msg === null) throw new Error('not an object');
    } catch {
      throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage' });
    }
    return parseConnectionParamsFromUnknown((msg as { data?: unknown }).data);
  }

  private parseCalls(data: Buffer, isBinary: boolean): TRPCClientOutgoingMessage[] {
    let decoded: unknown;
    try {
      decoded = this.opts.format.decode(data, isBinary);
    } catch {
      this.malformed(isBinary ? 'binary frames are not read: this connection speaks JSON text' : 'the frame is not JSON');
      return [];
    }
    const raws = Array.isArray(decoded) ? decoded : [decoded];
    if (raws.length > this.opts.maxBatchSize) {
      this.conn.charge(raws.length - 1);
      this.refuseBatch(raws);
      return [];
    }
    let calls: TRPCClientOutgoingMessage[];
    try {
      calls = raws.map((raw) => parseTRPCMessage(raw, this.opts.router._def._config.transformer));
    } catch (cause) {
      // tRPC's own checks say what is wrong in a few words; a RangeError (input nested too deeply) says nothing of use.
      this.malformed(cause instanceof Error && !(cause instanceof RangeError) ? bounded(cause.message) : 'not a tRPC message');
      return [];
    }
    if (!calls.every(hasEchoableId)) {
      this.malformed(`a request id is longer than ${errorBounds.textChars} characters`);
      return [];
    }
    // The frame paid one token; each further call of an array pays its own.
    if (calls.length > 1) this.conn.charge(calls.length - 1);
    return calls;
  }

  /** Every call of a batch over the bound gets the error, so no client waits forever; none runs. */
  private refuseBatch(raws: readonly unknown[]) {
    const error = new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
    let answered = false;
    for (const raw of raws) {
      const call = raw as { id?: unknown; method?: unknown; jsonrpc?: unknown } | null;
      const id = call && typeof call === 'object' ? call.id : undefined;
      if (
        call?.method !== 'subscription.stop' &&
        (typeof id === 'number' || (typeof id === 'string' && id.length <= errorBounds.textChars))
      ) {
        this.respondError(id, call?.jsonrpc === '2.0' ? '2.0' : undefined, error, 'unknown');
        answered = true;
      }
    }
    if (!answered) this.respondError(null, undefined, error, 'unknown');
  }

  private async handleCall(msg: TRPCClientOutgoingMessage, batchIndex: number, context: Promise<Context>) {
    const { id, jsonrpc } = msg;
    if (id === null) return this.malformed('`id` is required', jsonrpc);
    if (msg.method === 'subscription.stop') return this.stop(id);
    const type = msg.method;
    const { path, lastEventId } = msg.params;
    let { input } = msg.params;
    // As tRPC's adapter: the id of the last tracked event is merged into the input.
    if (lastEventId !== undefined) {
      input = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    let call: SubscriptionCall | null = null;
    if (type === 'subscription') {
      if (this.calls?.has(id)) {
        return this.respondError(id, jsonrpc, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }), type, path, input);
      }
      if ((this.calls?.size ?? 0) >= this.opts.maxSubscriptions) {
        return this.respondError(id, jsonrpc, apiError('too_many_subscriptions'), type, path, input);
      }
      // Registered before any await, so a stop or the connection's end during
      // authentication or the procedure's setup cancels the subscription.
      call = new SubscriptionCall(this, id, jsonrpc);
      this.calls ??= new Map();
      this.calls.set(id, call);
    }

    let result: unknown;
    try {
      const ctx = await context;
      if (call?.stopped) throw new Error('stopped before it started');
      // No signal: the session owns the subscription and closes it on stop or end.
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
      if (!this.forget(call)) return;
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
      if (isAsyncIterable(result)) return this.iterate(call, result, path, input);
      if (!this.forget(call)) return;
      const message = `Subscription ${path} did not return a bus subscription (see server/routers/subscribe.ts)`;
      return this.respondError(id, jsonrpc, new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message }), type, path, input);
    }
    const subscription = result as TopicSubscription<RealtimeEvent>;
    const access = this.opts.access;
    const principal = this.ctx?.principal;
    if (access && principal) {
      let refusal: unknown;
      try {
        refusal = await access.check(principal, subscription.topic);
      } catch (cause) {
        refusal = cause;
      }
      if (refusal) {
        subscription.close();
        if (!this.forget(call)) return;
        return this.respondError(id, jsonrpc, refusal, type, path, input);
      }
    }
    this.deliver(call, subscription, path, input);
  }

  /** Streams a bus subscription to the client until the session ends it (stop, failure, or the connection's end). */
  private deliver(call: SubscriptionCall, subscription: TopicSubscription<RealtimeEvent>, path: string, input: unknown) {
    if (this.calls?.get(call.id) !== call) {
      // The connection ended while the procedure ran.
      subscription.close();
      return;
    }
    if (call.stopped) {
      subscription.close();
      this.forget(call);
      return this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } });
    }
    // A revocation heard while the store was read: it found no live subscription to end.
    const principal = this.ctx?.principal;
    const revoked = principal ? this.opts.access?.checkLocally(principal, subscription.topic) : null;
    if (revoked) {
      subscription.close();
      this.forget(call);
      return this.respondError(call.id, call.jsonrpc, revoked, 'subscription', path, input);
    }
    call.subscription = subscription;
    this.opts.subscriptionsChanged(1);
    call.prefix = this.opts.format.prefix(call.id, call.jsonrpc);
    call.prefixBytes = Buffer.byteLength(call.prefix);
    this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'started' } });
    // (Sending may have ended the connection, and with it the subscription: `start` then returns at once.)
    subscription.start(call).catch((cause: unknown) => this.failed(call, cause, path, input));
  }

  /**
   * Streams a subscription that is not the bus's but a plain async iterable
   * (presence.onChange): one data frame per value, untracked (no id, no
   * resume), until it ends (`stopped`), fails (its error) or the session
   * ends it (`release`: its iterator's `return`, which must end a pending
   * `next` at once). For rare events only: a promise per value.
   */
  private iterate(call: SubscriptionCall, iterable: AsyncIterable<unknown>, path: string, input: unknown) {
    const iterator = iterable[Symbol.asyncIterator]();
    const closer = { close: () => void iterator.return?.()?.catch(() => undefined) };
    if (this.calls?.get(call.id) !== call) return closer.close();
    if (call.stopped) {
      closer.close();
      this.forget(call);
      return this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } });
    }
    call.subscription = closer;
    this.opts.subscriptionsChanged(1);
    this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'started' } });
    const pump = async () => {
      for (;;) {
        const next = await iterator.next();
        if (call.subscription !== closer) return;
        if (next.done) {
          this.forget(call);
          this.release(call);
          return this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } });
        }
        this.respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'data', data: next.value } });
      }
    };
    pump().catch((cause: unknown) => {
      if (call.subscription === closer) this.failed(call, cause, path, input);
    });
  }

  /** A subscription could not go live: it fell too far behind (4013 for the connection), or its history could not be read. */
  private failed(call: SubscriptionCall, cause: unknown, path: string, input: unknown) {
    if (reasonOf(cause) === 'slow_consumer') return this.conn.end(CloseCode.SLOW_CONSUMER, 'slow consumer');
    if (!this.forget(call)) return;
    this.release(call);
    this.respondError(call.id, call.jsonrpc, cause, 'subscription', path, input);
  }

  /** The client's `subscription.stop`: `stopped` once it ended (a call still starting ends when its procedure returns). */
  private stop(id: CallId) {
    const call = this.calls?.get(id);
    if (!call) return;
    call.stopped = true;
    if (!call.subscription) return;
    this.forget(call);
    this.release(call);
    this.respond({ id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } });
  }

  /** Ends a live call's subscription and gives its slot back. */
  private release(call: SubscriptionCall) {
    const subscription = call.subscription;
    if (!subscription) return;
    call.subscription = null;
    subscription.close();
    this.opts.subscriptionsChanged(-1);
  }

  /** Drops the call from the session's; false when it was not there (any more). */
  private forget(call: SubscriptionCall): boolean {
    if (this.calls?.get(call.id) !== call) return false;
    this.calls.delete(call.id);
    if (this.calls.size === 0) this.calls = null;
    return true;
  }
}
