import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown } from '@trpc/server';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import { type DialectMessage, type DialectTarget, parseDialectMessage } from '../../shared/jsonDialect';
import { topics } from '../../shared/topics';
import type { SubscriptionAccess } from '../admin/adminService';
import { type EventSink, TopicSubscription } from '../bus/topicSubscription';
import { type ApiError, apiError, reasonOf } from '../errors';
import type { ErrorReporter } from '../observability/errorReporter';
import type { AppRouter } from '../routers';
import type { Context } from '../trpc/context';
import { bounded, errorBounds } from '../trpc/errorBounds';
import type { Connection, ProtocolSession } from './connection';
import type { DialectWireFormat } from './wireFormat';

type ProcedureType = 'mutation' | 'subscription';

export interface JsonSessionOptions {
  router: AppRouter;
  format: DialectWireFormat;
  /** Subscriptions one connection may hold (those still starting included). */
  maxSubscriptions: number;
  /** The same authentication as tRPC's createContext: refuses with our close code and throws. */
  authenticate: (conn: Connection, token: string | null) => Promise<Context>;
  /** Every error answered (counted and logged by the server: observability/errorReporter.ts). */
  onError: ErrorReporter;
  subscriptionsChanged: (delta: 1 | -1) => void;
  /** Operator revocations a subscription must pass before it goes live (admin.revokeAccess). */
  access?: SubscriptionAccess;
}

/** Normal closure: a per-resource connection whose one resource cannot be served. */
const NORMAL_CLOSURE = 1000;

/** The procedure that serves a target, and the data the dialect echoes in `subscribed` / `unsubscribed`. */
function procedureOf(target: DialectTarget, lastEventId: unknown): { path: string; input: unknown; echo: Record<string, unknown> } {
  const resume = lastEventId === undefined || lastEventId === null ? {} : { lastEventId };
  switch (target.kind) {
    case 'investigation':
      return { path: 'investigation.onUpdate', input: { investigationId: target.id, ...resume }, echo: { investigation_id: target.id } };
    case 'analysis':
      return { path: 'analysis.onUpdate', input: { analysisId: target.id, ...resume }, echo: { analysis_id: target.id } };
    case 'chat':
      return { path: 'chat.onEvent', input: { sessionId: target.id, ...resume }, echo: { session_id: target.id } };
    case 'notifications':
      return { path: 'notification.onNotification', input: resume, echo: { notifications: true } };
  }
}

/** A message that is not one of the dialect's, answered in its turn. */
interface Invalid {
  type: 'invalid';
  error: ApiError;
}

/** One subscription of the dialect: the sink its topic writes to, keyed by target. */
class DialectSubscription implements EventSink {
  subscription: TopicSubscription<RealtimeEvent> | null = null;
  stopped = false;

  constructor(
    readonly session: JsonSession,
    readonly key: string,
    readonly echo: Record<string, unknown>,
  ) {}

  write(events: readonly RealtimeEvent[], live: boolean, flushed?: () => void) {
    this.session.writeEvents(events, live, flushed);
  }

  get busy() {
    return this.session.conn.busy;
  }
}

/**
 * The seed's plain JSON dialect on one connection (README "Other languages: the plain JSON
 * dialect"): the second protocol the bounded connection runs, beside tRPC's
 * (rpcSession.ts). It calls the very procedures tRPC clients call (access
 * checks, input schemas, resume, chat ownership), so both dialects refuse and
 * deliver alike; only the frames differ. Events are written as pre-encoded
 * frames, one write per batch, encoded once per event (wireFormat.ts).
 *
 * Messages are handled one after another, in the order they arrived, once the
 * connection is authenticated: by `?token=`, or by a first `auth` message. A
 * malformed message is answered with an error frame only when the connection
 * was rested (Connection.rested), as in tRPC's session.
 */
export class JsonSession implements ProtocolSession {
  private context: Promise<Context> | null;
  /** The messages still to handle, chained in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private subscriptions: Map<string, DialectSubscription> | null = null;
  private ended = false;

  /**
   * @param context the connection's authentication, when `?token=` started it at connect
   * @param resource the one resource of a per-resource path: subscribed at once; if it cannot be served, the connection closes (1000)
   */
  constructor(
    readonly conn: Connection,
    private readonly opts: JsonSessionOptions,
    context: Promise<Context> | null,
    private readonly resource: DialectTarget | null = null,
  ) {
    this.context = context;
    // Failures are the connection's to report (it closes with 4001 / 4008).
    context?.catch(() => undefined);
    if (resource && context) this.enqueue({ type: 'subscribe', target: resource, lastEventId: undefined });
  }

  receive(data: Buffer, isBinary: boolean) {
    if (this.ended) return;
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary');
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      if (!this.context) return this.conn.end(CloseCode.UNAUTHORIZED, 'token_missing');
      if (this.conn.rested) this.enqueue({ type: 'invalid', error: apiError('not_json') });
      return;
    }
    const message = parseDialectMessage(raw);
    if (!this.context) {
      // Without ?token=, the first message must carry the token.
      if (typeof message === 'string' || message.type !== 'auth') return this.conn.end(CloseCode.UNAUTHORIZED, 'token_missing');
      this.context = this.opts.authenticate(this.conn, message.token);
      this.context.catch(() => undefined);
      if (this.resource) this.enqueue({ type: 'subscribe', target: this.resource, lastEventId: undefined });
      return;
    }
    if (typeof message === 'string') {
      // Answered only when the connection was rested (a stream of junk gets one error), counted always.
      const error = apiError('invalid_message', message);
      if (this.conn.rested) this.enqueue({ type: 'invalid', error });
      else this.opts.onError(error, undefined, this.conn.describe());
      return;
    }
    this.enqueue(message);
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    const subscriptions = this.subscriptions;
    this.subscriptions = null;
    if (!subscriptions) return;
    for (const sub of subscriptions.values()) {
      sub.stopped = true;
      this.release(sub);
    }
  }

  /**
   * admin.revokeAccess: every live subscription to `topic` ends now with an
   * error frame (`access_revoked`); a per-resource connection, left with
   * nothing to serve, then closes normally.
   */
  revokeTopic(topic: string, error: ApiError): number {
    if (this.ended || !this.subscriptions) return 0;
    let ended = 0;
    for (const sub of [...this.subscriptions.values()]) {
      if (sub.subscription?.topic !== topic) continue;
      sub.stopped = true;
      this.forget(sub);
      this.release(sub);
      ended++;
    }
    if (ended > 0) {
      this.sendError(error, undefined, 'subscription');
      if (this.resource) this.conn.endSoon(NORMAL_CLOSURE, 'access_revoked');
    }
    return ended;
  }

  /** One frame per event, all of them in one write. */
  writeEvents(events: readonly RealtimeEvent[], live: boolean, flushed?: () => void) {
    this.conn.writeFrames('', 0, this.opts.format.frames(events, live), events, live, flushed);
  }

  /** Handled after every message before it, so that replies come in the order of the messages. */
  private enqueue(message: DialectMessage | Invalid) {
    const context = this.context!;
    this.queue = this.queue.then(async () => {
      let ctx: Context;
      try {
        ctx = await context;
      } catch {
        return; // refused: the connection is closing with our code
      }
      if (this.ended) return;
      try {
        await this.handle(message, ctx);
      } catch (cause) {
        this.opts.onError(getTRPCErrorFromUnknown(cause), undefined);
      }
    });
  }

  private async handle(message: DialectMessage | Invalid, ctx: Context) {
    switch (message.type) {
      case 'invalid':
        return this.sendError(message.error);
      case 'auth':
        // Already authenticated: a second token changes nothing.
        return this.sendError(apiError('invalid_message', 'the connection is already authenticated'));
      case 'ping':
        return this.send({ type: 'pong' });
      case 'subscribe':
        return this.subscribe(message.target, message.lastEventId, ctx);
      case 'unsubscribe':
        return this.unsubscribe(message.target);
      case 'chat':
        return this.call(ctx, 'chat.send', { sessionId: message.sessionId, content: message.content });
      case 'typing':
        return this.call(ctx, 'chat.typing', { sessionId: message.sessionId, isTyping: message.isTyping });
    }
  }

  /** A mutation of the router; its result is not echoed (chat's reply streams on the session's subscription), its error is. */
  private async call(ctx: Context, path: string, input: unknown) {
    try {
      await this.invoke(ctx, path, 'mutation', input);
    } catch (cause) {
      this.sendError(cause, path, 'mutation');
    }
  }

  private invoke(ctx: Context, path: string, type: ProcedureType, input: unknown): Promise<unknown> {
    return callTRPCProcedure({
      router: this.opts.router,
      path,
      getRawInput: async () => input,
      ctx,
      type,
      batchIndex: 0,
      signal: undefined,
    });
  }

  private async subscribe(target: DialectTarget, lastEventId: unknown, ctx: Context) {
    const { path, input, echo } = procedureOf(target, lastEventId);
    const key = target.kind === 'notifications' ? topics.notification(ctx.principal!.userId) : topics[target.kind](target.id);
    // Subscribing again to what is already subscribed changes nothing (its events keep coming once).
    if (this.subscriptions?.has(key)) return this.send({ type: 'subscribed', data: echo });
    if ((this.subscriptions?.size ?? 0) >= this.opts.maxSubscriptions) return this.refused(apiError('too_many_subscriptions'), path);
    const sub = new DialectSubscription(this, key, echo);
    this.subscriptions ??= new Map();
    this.subscriptions.set(key, sub);
    let result: unknown;
    try {
      result = await this.invoke(ctx, path, 'subscription', input);
    } catch (cause) {
      if (this.forget(sub)) this.refused(cause, path);
      return;
    }
    if (!(result instanceof TopicSubscription)) {
      this.forget(sub);
      throw new Error(`Subscription ${path} did not return a bus subscription`);
    }
    if (this.subscriptions?.get(key) !== sub) {
      // The connection ended while the procedure ran.
      result.close();
      return;
    }
    const access = this.opts.access;
    if (access && ctx.principal) {
      let refusal: unknown;
      try {
        refusal = await access.check(ctx.principal, result.topic);
      } catch (cause) {
        refusal = cause;
      }
      if (this.subscriptions?.get(key) !== sub) {
        result.close();
        return;
      }
      // A revocation heard while the store was read found no live subscription to end.
      refusal ||= access.checkLocally(ctx.principal, result.topic);
      if (refusal) {
        result.close();
        this.forget(sub);
        this.refused(refusal, path);
        return;
      }
    }
    sub.subscription = result as TopicSubscription<RealtimeEvent>;
    this.opts.subscriptionsChanged(1);
    this.send({ type: 'subscribed', data: echo });
    sub.subscription.start(sub).catch((cause: unknown) => this.failed(sub, cause, path));
  }

  private unsubscribe(target: DialectTarget) {
    const { echo } = procedureOf(target, undefined);
    const key = target.kind === 'notifications' ? null : topics[target.kind](target.id);
    for (const sub of this.subscriptions?.values() ?? []) {
      if (key === null ? sub.echo.notifications === true : sub.key === key) {
        sub.stopped = true;
        this.forget(sub);
        this.release(sub);
      }
    }
    this.send({ type: 'unsubscribed', data: echo });
  }

  /** A subscription could not go live: too far behind (4013), or its history could not be read. */
  private failed(sub: DialectSubscription, cause: unknown, path: string) {
    if (reasonOf(cause) === 'slow_consumer') return this.conn.end(CloseCode.SLOW_CONSUMER, 'slow consumer');
    if (!this.forget(sub)) return;
    this.release(sub);
    this.refused(cause, path);
  }

  /** A subscription was refused: the error frame; a per-resource connection has nothing else to serve and closes normally. */
  private refused(cause: unknown, path: string) {
    this.sendError(cause, path, 'subscription');
    if (this.resource) this.conn.endSoon(NORMAL_CLOSURE, reasonOf(cause) ?? 'subscription_failed');
  }

  private release(sub: DialectSubscription) {
    const subscription = sub.subscription;
    if (!subscription) return;
    sub.subscription = null;
    subscription.close();
    this.opts.subscriptionsChanged(-1);
  }

  private forget(sub: DialectSubscription): boolean {
    if (this.subscriptions?.get(sub.key) !== sub) return false;
    this.subscriptions.delete(sub.key);
    if (this.subscriptions.size === 0) this.subscriptions = null;
    return true;
  }

  private send(message: unknown) {
    if (!this.ended) this.conn.send(JSON.stringify(message));
  }

  /**
   * `{"type":"error","data":{"code","reason","message"}}`: tRPC's code name,
   * the contract's reason and the message tRPC's error formatter gives (an
   * invalid input names its fields, never echoes them; nothing internal leaks).
   */
  private sendError(cause: unknown, path?: string, type: ProcedureType | 'unknown' = 'unknown') {
    const error = getTRPCErrorFromUnknown(cause);
    this.opts.onError(error, path, this.conn.describe());
    let message = 'internal error';
    let reason: string | null = reasonOf(error) ?? null;
    try {
      const shape = getErrorShape({ config: this.opts.router._def._config, ctx: undefined, error, type, path, input: undefined });
      message = shape.message;
      reason = (shape.data as { reason?: string | null }).reason ?? reason;
    } catch {
      // The formatter failed: the fallback says nothing about the error.
    }
    if (reason === null && error.code === 'BAD_REQUEST') reason = 'invalid_message';
    this.send({ type: 'error', data: { code: error.code, reason, message: bounded(message, errorBounds.messageChars) } });
  }
}
