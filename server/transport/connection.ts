import type { Duplex } from 'node:stream';
import { type RawData, WebSocket } from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import type { ConnectionType } from '../../shared/paths';
import type { Principal } from '../auth/principal';
import type { Clock, ClockTimer } from '../clock';
import type { ApiError } from '../errors';
import type { BucketState, TokenBucket } from '../limits/tokenBucket';
import type { Refused } from '../observability/errorReporter';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { FrameKind, ReadThrottle } from './readThrottle';
import { writeTextFrames } from './textFrames';

/**
 * The protocol spoken on a connection (rpcSession.ts: tRPC's): it parses what
 * the connection hands it and answers through the connection. The connection
 * owns it and ends it; it never outlives the connection.
 */
export interface ProtocolSession {
  /** One incoming message, already paid for by the connection's budget. */
  receive(data: Buffer, isBinary: boolean): void;
  /** The connection ended, for whatever reason: stop everything, send nothing. Called once. */
  end(): void;
  /**
   * admin.revokeAccess: ends the subscriptions to `topic`, each with an error
   * response carrying `error`; returns how many ended.
   */
  revokeTopic(topic: string, error: ApiError): number;
}

/** What every connection of a server shares: one object, nothing per connection. */
export interface ConnectionOptions {
  /** The incoming budget: every frame takes a token. */
  bucket: TokenBucket;
  /** A connection kept over its budget this long (ms) is closed with 1008. */
  closeOverBudgetAfterMs: number;
  /** Outbound bytes past which the client counts as a slow consumer (4013). */
  slowConsumerBytes: number;
  /** The time a connection has to authenticate (ms) before 4001. */
  authTimeoutMs: number;
  /** Runs the authentication deadline and the token's expiry. */
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

/** ws's WebSocket with a slot for its connection, so that one listener function serves every socket. */
export class ConnectionSocket extends WebSocket {
  connection: Connection | null = null;
}

/** Options of every data frame sent through ws: text, complete (ws compresses it when the connection negotiated that). */
const DATA_FRAME = { binary: false, fin: true } as const;

/**
 * How long a connection closed while its reading is paused gets to read the
 * close frame before it is cut off: it is not read any more, so the closing
 * handshake cannot finish.
 */
const PAUSED_CLOSE_GRACE_MS = 2_000;

function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
  (this as ConnectionSocket).connection?.receive(data as Buffer, isBinary ? FrameKind.binary : FrameKind.text);
}

function onPing(this: WebSocket, data: Buffer) {
  (this as ConnectionSocket).connection?.receive(data, FrameKind.ping);
}

function onPong(this: WebSocket, data: Buffer) {
  (this as ConnectionSocket).connection?.receive(data, FrameKind.pong);
}

function terminate(ws: WebSocket) {
  ws.terminate();
}

/**
 * One WebSocket connection, from the upgrade to the close event: the bounded
 * pipe a protocol session runs on.
 *
 * - **Budget in.** Every frame (message, binary, ping, pong; authenticated or
 *   not) takes a token before anything parses it. Out of tokens, the server
 *   stops reading the socket until tokens come back, so the sender's own
 *   buffers fill and push back; nothing is refused or answered for it. A
 *   connection kept over budget for `closeOverBudgetAfterMs` is closed (1008).
 * - **Bounded bytes out.** Replies, pongs, pings and events all go through
 *   `send`, `writeFrames` or the keepalive: past `slowConsumerBytes` unread, 4013.
 * - **Timers**: the deadline to authenticate, then the token's expiry.
 * - **End**: `end` is the one way out, whoever asks (a close code of ours, the
 *   peer leaving, shutdown); it ends the session, which ends its subscriptions.
 *   Nothing below calls back up.
 *
 * Kept small — two numbers of budget, listeners shared by every socket, no
 * closure but its timers' — because an idle server holds one per client.
 */
export class Connection implements BucketState {
  tokens = 0;
  /** When the connection was accepted (ms since the epoch): its duration is logged when it closes. */
  readonly openedAt = Date.now();
  /** When the last frame was read (ms, performance.now()): its budget was last counted then; the keepalive reads it too. */
  lastSeen = 0;
  private who: Principal | null = null;
  /** Counted for its user (the limit admitted it); released on close. */
  private counted = false;
  /**
   * null while open; once ended, the close code we ended it with (ours, or
   * ws's own for a protocol error), 0 when the peer or the socket ended it.
   * The close event may report another (1006 when the peer never answered).
   */
  private endCode: number | null = null;
  private session: ProtocolSession | null = null;
  /** Set while the connection is (or just was) over its budget. */
  private throttle: ReadThrottle | null = null;
  private authTimer: ClockTimer | null;
  private expiryTimer: ClockTimer | null = null;
  /** permessage-deflate was negotiated: frames must go through ws, which compresses them. */
  private readonly compressed: boolean;

  constructor(
    readonly id: string,
    readonly ws: ConnectionSocket,
    /** The raw socket under `ws`, which we write a batch to in one go. */
    private readonly socket: Duplex,
    readonly type: ConnectionType,
    /** The client's address as the upgrade guard counted it (per-address bounds). */
    readonly clientAddress: string,
    private readonly options: ConnectionOptions,
  ) {
    this.compressed = ws.extensions.includes('permessage-deflate');
    options.bucket.fill(this, performance.now());
    this.authTimer = options.clock.setTimeout(() => this.end(CloseCode.UNAUTHORIZED, 'auth_timeout'), options.authTimeoutMs);
  }

  /** Starts reading: from now on every frame, once paid for, goes to `session`. */
  start(session: ProtocolSession) {
    this.session = session;
    const ws = this.ws;
    ws.connection = this;
    ws.on('message', onMessage);
    ws.on('ping', onPing);
    ws.on('pong', onPong);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The connection ended (closed by us or by the peer): nothing more is read or written. */
  get isEnded(): boolean {
    return this.endCode !== null;
  }

  /** The close code this side ended the connection with; undefined when the peer ended it. */
  get closedWith(): number | undefined {
    return this.endCode || undefined;
  }

  /** The authenticated user, once admitted. */
  get principal(): Principal | null {
    return this.who;
  }

  /** Who this is, for a log line: never the token. */
  describe(): Refused {
    return { connectionId: this.id, userId: this.who?.userId, remoteAddress: this.clientAddress };
  }

  /** Counted by the per-user connection limit: its slot is released when it closes. */
  get admitted(): boolean {
    return this.counted;
  }

  /**
   * The connection authenticated and the per-user limit counted it: the
   * authentication deadline is lifted and the token's expiry armed.
   */
  admit(principal: Principal) {
    if (this.isEnded) return;
    this.who = principal;
    this.counted = true;
    const { clock } = this.options;
    if (this.authTimer) clock.clearTimeout(this.authTimer);
    this.authTimer = null;
    this.expiryTimer = clock.setTimeout(() => this.end(CloseCode.UNAUTHORIZED, 'token_expired'), principal.expiresAt - clock.now());
  }

  /** One incoming frame: it pays a token and is handled, or waits (reading paused) until it can pay. */
  receive(data: Buffer, kind: FrameKind) {
    if (this.isEnded) return;
    const throttle = this.throttle;
    if (throttle?.paused) {
      // ws still emits what it had read before the pause: held, in order.
      if (!throttle.hold(data, kind)) this.end(CloseCode.POLICY_VIOLATION, 'rate_limited');
      return;
    }
    const { bucket } = this.options;
    const now = performance.now();
    if (!bucket.take(this, now)) return this.pause(data, kind, now);
    // The episode over budget is over once the client let its bucket refill to half.
    if (throttle !== null && this.tokens + 1 >= bucket.burst / 2) this.throttle = null;
    this.handle(data, kind);
  }

  /**
   * A frame turned out to cost more than the token it paid (an array of n
   * calls costs n): the budget goes into debt, and the next frame waits
   * until it is paid off.
   */
  charge(extra: number) {
    this.options.bucket.charge(this, extra);
  }

  /**
   * Whether the budget was full when the frame being handled arrived: the
   * session answers a malformed frame only then, so a stream of them gets
   * one error, not one each.
   */
  get rested(): boolean {
    return this.tokens >= this.options.bucket.burst - 1;
  }

  /** Sends one message (a reply, an error, a PONG); past the outbound bound the client is a slow consumer. */
  send(message: string) {
    if (!this.isOpen) return;
    this.ws.send(message);
    this.checkOutbound();
  }

  /**
   * Writes one text frame per event of `events` in one go, each `prefix` (of
   * `prefixBytes` UTF-8 bytes) followed by that event's tail in `tails`: the
   * session encodes, the connection writes and counts them. A client that has
   * more unread bytes than the bound afterwards is a slow consumer. With
   * `flushed`, it is called once the frames have left for the kernel.
   */
  writeFrames(
    prefix: string,
    prefixBytes: number,
    tails: readonly Buffer[],
    events: readonly RealtimeEvent[],
    live: boolean,
    flushed?: () => void,
  ) {
    if (!this.isOpen) return flushed?.();
    const count = events.length;
    if (this.compressed) {
      // ws compresses per connection: each payload goes through it whole.
      for (let i = 0; i < count; i++) {
        const payload = Buffer.concat([Buffer.from(prefix, 'utf8'), tails[i]!]);
        this.ws.send(payload, DATA_FRAME, i === count - 1 ? flushed : undefined);
      }
    } else {
      writeTextFrames(this.socket, prefix, prefixBytes, tails, count, flushed);
    }
    this.options.metrics.sent(events, live, Date.now());
    this.checkOutbound();
  }

  /**
   * Whether this client has enough unread bytes that a replay should wait for
   * them to leave before writing more (a quarter of the slow-consumer bound).
   */
  get busy(): boolean {
    return this.isOpen && this.ws.bufferedAmount >= this.options.slowConsumerBytes / 4;
  }

  /** Bytes waiting to be written to this client: ws's queue plus the socket's. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * The keepalive's turn: a connection silent (not even a pong) since
   * `silentSince` is cut off, any other gets a protocol ping. One paused for
   * its budget is not read, so its silence says nothing: its own deadline
   * (1008) applies.
   */
  keepAlive(silentSince: number) {
    if (this.lastSeen < silentSince && !this.throttle?.paused) {
      this.ws.terminate();
    } else if (this.isOpen) {
      this.ws.ping();
      this.checkOutbound();
    }
  }

  /** admin.revokeAccess: ends this connection's subscriptions to `topic` with `error`; how many ended. */
  revokeTopic(topic: string, error: ApiError): number {
    if (this.isEnded) return 0;
    return this.session?.revokeTopic(topic, error) ?? 0;
  }

  /** Ends the connection on the next turn, after what the current turn still sends (the error reply that explains it). */
  endSoon(code: number, reason: string) {
    setImmediate(() => this.end(code, reason));
  }

  /**
   * The one way a connection ends, whatever the cause: with one of our close
   * codes (the closing handshake starts; the close frame waits behind what is
   * already buffered), or without one when the socket closed. The session and
   * its subscriptions end now, not when the peer answers. Idempotent.
   */
  end(code?: number, reason?: string) {
    if (this.endCode !== null) return;
    this.endCode = code ?? 0;
    const { clock } = this.options;
    if (this.authTimer) clock.clearTimeout(this.authTimer);
    if (this.expiryTimer) clock.clearTimeout(this.expiryTimer);
    this.authTimer = this.expiryTimer = null;
    const throttle = this.throttle;
    this.throttle = null;
    throttle?.clear();
    if (code !== undefined) this.report(code, reason);
    this.session?.end();
    // ws closes by itself after a protocol error (its own code is recorded above).
    if (code === undefined || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.close(code, reason);
    // A paused socket is not read: the peer's close frame would never be seen.
    if (throttle?.paused) setTimeout(terminate, PAUSED_CLOSE_GRACE_MS, this.ws).unref();
  }

  private report(code: number, reason: string | undefined) {
    const { metrics, logger } = this.options;
    if (code === CloseCode.SLOW_CONSUMER) {
      metrics.slowConsumers.inc();
      metrics.error('slow_consumer');
      logger.warn({ event: 'slow_consumer', ...this.describe(), buffered: this.bufferedAmount });
    } else if (code === CloseCode.POLICY_VIOLATION) {
      metrics.budgetCloses.inc();
      metrics.error('rate_limited');
      logger.warn({ event: 'over_budget', ...this.describe(), reason });
    } else if (code === CloseCode.MESSAGE_TOO_BIG) {
      metrics.error('message_too_big');
      logger.info({ event: 'refused', reason: 'message_too_big', ...this.describe() });
    } else if (code === CloseCode.PROTOCOL_ERROR || code === CloseCode.INVALID_PAYLOAD) {
      metrics.error('bad_request');
      logger.info({ event: 'ws_protocol_error', reason, ...this.describe() });
    } else if (code === CloseCode.UNAUTHORIZED && reason === 'auth_timeout') {
      // (A refused token was reported when it was refused; an expired one is the token's normal end.)
      metrics.error('auth_failed');
      logger.info({ event: 'refused', reason, ...this.describe() });
    }
  }

  private handle(data: Buffer, kind: FrameKind) {
    this.options.metrics.framesRead.inc();
    if (kind === FrameKind.text || kind === FrameKind.binary) {
      this.session!.receive(data, kind === FrameKind.binary);
    } else if (kind === FrameKind.ping && this.isOpen) {
      // ws's automatic pong is off: a ping is answered here, after it paid, on the bounded path.
      this.ws.pong(data);
      this.checkOutbound();
    }
  }

  /** Out of tokens: stop reading, hold the frame, and pay for it when a token is back. */
  private pause(data: Buffer, kind: FrameKind, now: number) {
    this.throttle ??= new ReadThrottle(now);
    const throttle = this.throttle;
    throttle.hold(data, kind);
    if (this.overBudgetTooLong(throttle, now)) return;
    throttle.paused = true;
    this.ws.pause();
    this.options.metrics.readsPaused.inc();
    this.payLater(throttle, now);
  }

  private payLater(throttle: ReadThrottle, now: number) {
    // A closure per pause, not per connection: it exists only while the connection is throttled.
    throttle.timer = setTimeout(() => this.payHeld(), this.options.bucket.msUntil(this, 1, now));
  }

  /** Tokens came back: the held frames are handled in order while they last; once all are, reading resumes. */
  private payHeld() {
    const throttle = this.throttle;
    if (this.isEnded || throttle === null) return;
    throttle.timer = null;
    const now = performance.now();
    if (this.overBudgetTooLong(throttle, now)) return;
    const { bucket } = this.options;
    while (!throttle.isEmpty) {
      if (!bucket.take(this, now)) return this.payLater(throttle, now);
      const kind = throttle.nextKind;
      this.handle(throttle.shift(), kind);
      if (this.isEnded) return;
    }
    throttle.paused = false;
    this.ws.resume();
  }

  private overBudgetTooLong(throttle: ReadThrottle, now: number): boolean {
    if (now - throttle.since < this.options.closeOverBudgetAfterMs) return false;
    this.end(CloseCode.POLICY_VIOLATION, 'rate_limited');
    return true;
  }

  private checkOutbound() {
    if (!this.isEnded && this.ws.bufferedAmount > this.options.slowConsumerBytes) {
      // Its subscriptions stop and their queues are freed now; the close frame
      // waits behind what is already buffered, and the client resumes from the
      // last id it read.
      this.end(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
  }
}
