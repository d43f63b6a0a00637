import type { ServerResponse } from 'node:http';
import { tracked } from '@trpc/server';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import type { SubscriptionAccess } from '../admin/adminService';
import type { Principal } from '../auth/principal';
import { TopicSubscription } from '../bus/topicSubscription';
import type { Clock, ClockTimer } from '../clock';
import { type ApiError, apiError } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';

/** What every stream of a server shares: one object, nothing per stream. */
export interface SseStreamOptions {
  /** Bytes waiting to be sent past which the stream is ended (SLOW_CONSUMER_BYTES); the client resumes with Last-Event-ID. */
  slowConsumerBytes: number;
  /** Runs the token's expiry. */
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** A subscription started (+1) or ended (-1) on a stream. */
  subscriptionsChanged(delta: number): void;
  /** Revoked access (admin.revokeAccess) refuses a subscription here as on a WebSocket. */
  access: SubscriptionAccess;
}

/**
 * Why this side ended a stream. `expired`: the token's `exp` passed (the
 * client gets `UNAUTHORIZED` / `token_expired` and subscribes again with a
 * fresh token); the others end the response without tRPC's `return` event,
 * so an EventSource reconnects by itself and resumes with `Last-Event-ID`.
 */
export type SseEnd = 'expired' | 'token_revoked' | 'disconnected' | 'access_revoked' | 'slow_consumer' | 'draining' | 'shutdown';

/**
 * The ends the client must read as an error (through tRPC), not as a cut to
 * reconnect from: the token ran out or was revoked, an operator disconnected
 * the user or revoked this access.
 */
const endErrors: Partial<Record<SseEnd, () => ApiError>> = {
  expired: () => apiError('token_expired'),
  token_revoked: () => apiError('token_revoked'),
  disconnected: () => apiError('disconnected'),
  access_revoked: () => apiError('access_revoked'),
};

/** The close code each end is counted with in `realtime_connections_closed_total`, as a WebSocket would be closed. */
const endCodes: Record<SseEnd | 'closed', number> = {
  expired: CloseCode.UNAUTHORIZED,
  token_revoked: CloseCode.UNAUTHORIZED,
  disconnected: CloseCode.DISCONNECTED,
  access_revoked: 1000,
  slow_consumer: CloseCode.SLOW_CONSUMER,
  draining: CloseCode.SERVICE_RESTART,
  shutdown: CloseCode.GOING_AWAY,
  closed: 1000,
};

/** How long a stream this side ended may take to send what it still holds before its socket is cut (ms). */
const END_GRACE_MS = 5_000;

const OPEN = 0;
/** Ended by this side; the response is finishing. */
const ENDING = 1;
/** The response closed (finished, or the client left). */
const CLOSED = 2;

type Write = ServerResponse['write'];

/**
 * One Server-Sent Events stream (GET /api/v1/sse/<procedure>): one
 * authenticated, counted subscription on one HTTP response, written by tRPC's
 * own SSE producer (resolveResponse → sseStreamProducer → the node-http
 * adapter). This object sits on both ends of it:
 *
 * - **the data**: `deliver` (called by the authed middleware, trpc/init.ts)
 *   turns the procedure's TopicSubscription into the async iterable tRPC
 *   writes, fed by the subscription's sink straight from the fan-out: each
 *   batch is counted in the metrics and its frames are written corked, so a
 *   batch leaves in one write;
 * - **the response**: its `write` is wrapped so that every byte tRPC writes is
 *   counted and never waits (the bound is ours: more than `slowConsumerBytes`
 *   waiting ends the stream), and nothing is written once this side ended it.
 *
 * Ends: the token's expiry (`token_expired` as tRPC's serialized error), a
 * slow consumer, a drain, a shutdown (the response ends without `return`: the
 * EventSource reconnects with Last-Event-ID), or the client leaving.
 */
export class SseStream {
  /** When the stream was accepted (ms since the epoch): its duration is logged when it closes. */
  readonly openedAt = Date.now();
  private state = OPEN;
  private endReason: SseEnd | null = null;
  /** The topic this stream delivers, once its procedure returned one (what admin.revokeAccess matches). */
  topic: string | null = null;
  private expiryTimer: ClockTimer | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  /** Wakes the delivery loop (new events, or the end). */
  private wake: (() => void) | null = null;
  /** An uncork is scheduled: the frames of the current batch are being written. */
  private corked = false;
  /** Replay writes waiting for the client to read (TopicSubscription's paced replay). */
  private flushWaiters: (() => void)[] = [];
  private readonly writeThrough: Write;
  private readonly endThrough: ServerResponse['end'];

  constructor(
    readonly id: string,
    readonly principal: Principal,
    /** The procedure's path (never the URL: its query may hold a token). */
    readonly procedure: string,
    readonly clientAddress: string,
    private readonly res: ServerResponse,
    private readonly options: SseStreamOptions,
    /** Runs once, when the response closed, whoever ended it. */
    private readonly onClosed: (stream: SseStream, code: number) => void,
  ) {
    this.writeThrough = res.write;
    this.endThrough = res.end;
    // tRPC awaits `drain` whenever a write returns false; here the bound is
    // ours (bytes waiting, checked after each batch), so a write never waits.
    const stream = this;
    res.write = function write(this: ServerResponse, ...args: Parameters<Write>) {
      if (stream.state === OPEN) stream.writeThrough.apply(res, args);
      return true;
    } as Write;
    res.end = function end(this: ServerResponse, ...args: unknown[]) {
      if (stream.state === OPEN) return (stream.endThrough as (...a: unknown[]) => ServerResponse).apply(res, args);
      return res;
    } as ServerResponse['end'];
    res.once('close', () => this.closed());
    const { clock } = options;
    this.expiryTimer = clock.setTimeout(() => this.end('expired'), principal.expiresAt - clock.now());
  }

  get isOpen(): boolean {
    return this.state === OPEN;
  }

  /** Bytes written to the response and not yet sent to the client. */
  get bufferedAmount(): number {
    return this.res.writableLength;
  }

  /** Whether a replay should wait for the client to read before writing more (a quarter of the bound, as on a WebSocket). */
  get busy(): boolean {
    return this.state === OPEN && this.res.writableLength >= this.options.slowConsumerBytes / 4;
  }

  /**
   * What a subscription procedure returned, as tRPC is to write it on this
   * stream: a TopicSubscription becomes this stream's delivery; any other
   * async iterable is passed through, ended with the stream.
   */
  async deliver(data: unknown): Promise<unknown> {
    if (data instanceof TopicSubscription) {
      const subscription = data as TopicSubscription<RealtimeEvent>;
      // Revoked access (admin.revokeAccess) refuses the subscription before the stream starts, as on a WebSocket.
      const { access } = this.options;
      let refusal: ApiError | null;
      try {
        refusal = (await access.check(this.principal, subscription.topic)) ?? access.checkLocally(this.principal, subscription.topic);
      } catch (cause) {
        subscription.close();
        throw cause;
      }
      if (refusal) {
        subscription.close();
        throw refusal;
      }
      this.topic = subscription.topic;
      return this.deliverTopic(subscription);
    }
    if (isAsyncIterable(data)) return this.deliverIterable(data);
    return data;
  }

  private async *deliverTopic(subscription: TopicSubscription<RealtimeEvent>) {
    let queue: RealtimeEvent[] = [];
    let failure: { error: unknown } | null = null;
    const stream = this;
    this.options.subscriptionsChanged(1);
    const started = subscription.start({
      write: (events, live, flushed) => {
        for (const event of events) queue.push(event);
        this.batchWritten(events, live, flushed);
        this.notify();
      },
      get busy() {
        return stream.busy;
      },
    });
    started.catch((error: unknown) => {
      failure = { error };
      this.notify();
    });
    try {
      for (;;) {
        const ending = this.endReason === null ? undefined : endErrors[this.endReason];
        if (ending) throw ending();
        if (this.state !== OPEN) return;
        if (queue.length > 0) {
          const batch = queue;
          queue = [];
          for (const event of batch) yield tracked(event.id, event);
          continue;
        }
        if (failure !== null) throw (failure as { error: unknown }).error;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      subscription.close();
      this.options.subscriptionsChanged(-1);
    }
  }

  private async *deliverIterable(source: AsyncIterable<unknown>) {
    const iterator = source[Symbol.asyncIterator]();
    const ended = new Promise<typeof STREAM_ENDED>((resolve) => {
      this.wake = () => resolve(STREAM_ENDED);
    });
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), ended]);
        if (next === STREAM_ENDED) break;
        if (next.done) return;
        yield next.value;
      }
      const ending = this.endReason === null ? undefined : endErrors[this.endReason];
      if (ending) throw ending();
    } finally {
      void iterator.return?.();
    }
  }

  /** A batch was handed to tRPC: counted, and its frames written corked until tRPC wrote them all (they go in microtasks). */
  private batchWritten(events: readonly RealtimeEvent[], live: boolean, flushed?: () => void) {
    this.options.metrics.sent(events, live, Date.now());
    if (flushed) this.flushWaiters.push(flushed);
    if (this.corked || this.state !== OPEN) return;
    this.corked = true;
    this.res.cork();
    setImmediate(() => this.uncork());
  }

  private uncork() {
    if (!this.corked) return;
    this.corked = false;
    this.res.uncork();
    if (this.state !== OPEN) return;
    const buffered = this.res.writableLength;
    if (buffered > this.options.slowConsumerBytes) {
      const { metrics, logger } = this.options;
      metrics.slowConsumers.inc();
      metrics.error('slow_consumer');
      logger.warn({ event: 'slow_consumer', connectionId: this.id, userId: this.principal.userId, type: 'sse', bufferedBytes: buffered });
      this.end('slow_consumer');
      return;
    }
    if (this.flushWaiters.length === 0) return;
    if (!this.busy) this.releaseFlushWaiters();
    else this.res.once('drain', () => this.releaseFlushWaiters());
  }

  private releaseFlushWaiters() {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const flushed of waiters) flushed();
  }

  private notify() {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * Ends the stream from this side. `expired` ends it through tRPC (the
   * client reads `token_expired`); the others end the response now, after
   * what it holds, without tRPC's `return` event: an EventSource reconnects
   * and resumes with Last-Event-ID. Idempotent.
   */
  end(reason: SseEnd) {
    if (this.state !== OPEN || this.endReason !== null) return;
    this.endReason = reason;
    this.clearExpiry();
    if (this.corked) {
      this.corked = false;
      this.res.uncork();
    }
    if (endErrors[reason] === undefined) {
      this.state = ENDING;
      if (this.res.headersSent) {
        // A comment (ignored by EventSource) says why, for whoever reads the raw stream.
        (this.writeThrough as (chunk: string) => boolean).call(this.res, `: ${reason}\n\n`);
        (this.endThrough as () => ServerResponse).call(this.res);
      } else {
        this.res.destroy();
      }
    }
    this.notify();
    this.releaseFlushWaiters();
    // A client that does not read what is left is cut off.
    this.graceTimer = setTimeout(() => this.res.destroy(), END_GRACE_MS);
    this.graceTimer.unref();
  }

  private clearExpiry() {
    if (this.expiryTimer) this.options.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private closed() {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.clearExpiry();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.corked = false;
    this.notify();
    this.releaseFlushWaiters();
    this.onClosed(this, endCodes[this.endReason ?? 'closed']);
  }
}

const STREAM_ENDED = Symbol('stream ended');

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
