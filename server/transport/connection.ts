import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { RealtimeEvent } from '../../shared/events';
import type { ConnectionType } from '../../shared/paths';
import type { Principal } from '../auth/principal';
import type { SubscriptionOwner } from '../bus/topicSubscription';
import type { Clock, ClockTimer } from '../clock';
import { apiError } from '../errors';
import { writeTextFrames } from './textFrames';
import type { WireFormat } from './wireFormat';

export interface ConnectionOptions {
  maxSubscriptions: number;
  /** Outbound bytes past which the client counts as a slow consumer (4013). */
  slowConsumerBytes: number;
  /** How events are encoded for this connection. */
  format: WireFormat;
  onSubscriptionsChanged: (delta: 1 | -1) => void;
  /** Events written to clients (metrics). */
  onDelivered: (count: number) => void;
  /** The connection's buffer passed the bound, or a subscription fell too far behind: close it with 4013. */
  onSlowConsumer: (conn: Connection) => void;
  /** Runs the authentication deadline and the token's expiry. */
  clock: Clock;
}

/** Options of every data frame sent through ws: text, complete (ws compresses it when the connection negotiated that). */
const DATA_FRAME = { binary: false, fin: true } as const;

/** The tails of the batch being written, reused by every write (writes are synchronous). */
const scratchTails: Buffer[] = [];

/** A timer a connection may have running: the deadline to authenticate, then the token's expiry. */
type TimerName = 'auth' | 'expiry';

/**
 * What the server knows of one WebSocket connection. It lives from the upgrade
 * to the close event, and everything keyed by it is released on close. It is
 * kept small — no event targets, no per-connection closures beyond what ws
 * needs — because an idle server holds one per client.
 */
export class Connection implements SubscriptionOwner {
  principal: Principal | null = null;
  /** Counted for its user (the limit admitted it); released on close. */
  admitted = false;
  /** The close event has fired. */
  gone = false;
  lastSeen = Date.now();
  subscriptions = 0;
  /** Set by the protocol handler: ends the connection's subscriptions when it starts closing. */
  onClosing: (() => void) | null = null;
  private authTimer: ClockTimer | null = null;
  /** permessage-deflate was negotiated: frames must go through ws, which compresses them. */
  private readonly compressed: boolean;
  private expiryTimer: ClockTimer | null = null;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    /** The raw socket under `ws`, which we cork to write a batch in one go. */
    private readonly socket: Duplex,
    readonly type: ConnectionType,
    /** The `?token=` of the URL, used when connectionParams carry none; dropped once authenticated. */
    public queryToken: string | null,
    private readonly options: ConnectionOptions,
  ) {
    this.compressed = ws.extensions.includes('permessage-deflate');
  }

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /**
   * Takes one of the connection's subscription slots (TOO_MANY_REQUESTS when
   * none is left). The subscription opened with this connection as its owner
   * gives it back when it ends (`released`).
   */
  takeSubscriptionSlot(): SubscriptionOwner {
    if (this.subscriptions >= this.options.maxSubscriptions) throw apiError('too_many_subscriptions');
    this.subscriptions++;
    this.options.onSubscriptionsChanged(1);
    return this;
  }

  /** SubscriptionOwner: one of this connection's subscriptions ended (exactly once each). */
  released() {
    this.subscriptions--;
    this.options.onSubscriptionsChanged(-1);
  }

  /** SubscriptionOwner: a subscription fell further behind than its queue bound: 4013 like a full buffer. */
  overflowed() {
    this.options.onSlowConsumer(this);
  }

  /**
   * Writes one frame per event (the client reads one response per frame) in
   * one go: `prefix` (of `prefixBytes` UTF-8 bytes) names the subscription,
   * each event's tail is encoded once for all its subscribers. A client that
   * has more unread bytes than the bound afterwards is a slow consumer. With
   * `flushed`, it is called once the frames have left for the kernel.
   */
  writeEvents(prefix: string, prefixBytes: number, events: readonly RealtimeEvent[], flushed?: () => void) {
    if (!this.isOpen) return flushed?.();
    const { format } = this.options;
    const count = events.length;
    for (let i = 0; i < count; i++) scratchTails[i] = format.tail(events[i]!);
    if (this.compressed) {
      // ws compresses per connection: each payload goes through it whole.
      for (let i = 0; i < count; i++) {
        const payload = Buffer.concat([Buffer.from(prefix, 'utf8'), scratchTails[i]!]);
        this.ws.send(payload, DATA_FRAME, i === count - 1 ? flushed : undefined);
      }
    } else {
      writeTextFrames(this.socket, prefix, prefixBytes, scratchTails, count, flushed);
    }
    scratchTails.length = 0;
    this.options.onDelivered(count);
    if (this.ws.bufferedAmount > this.options.slowConsumerBytes) this.options.onSlowConsumer(this);
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

  /** Runs `fn` after `ms` unless cancelled or the connection closes first; replaces the timer of that name. */
  setTimer(name: TimerName, ms: number, fn: () => void) {
    this.clearTimer(name);
    const timer = this.options.clock.setTimeout(fn, ms);
    if (name === 'auth') this.authTimer = timer;
    else this.expiryTimer = timer;
  }

  clearTimer(name: TimerName) {
    const timer = name === 'auth' ? this.authTimer : this.expiryTimer;
    if (timer) this.options.clock.clearTimeout(timer);
    if (name === 'auth') this.authTimer = null;
    else this.expiryTimer = null;
  }

  /**
   * Closes with one of our codes on the next turn, after what the current
   * turn still sends (the error reply that explains the close).
   */
  closeSoon(code: number, reason: string) {
    setImmediate(() => this.close(code, reason));
  }

  /** Starts the closing handshake with our code; subscriptions stop now, not when the peer answers. */
  close(code: number, reason: string) {
    // Closing first: subscriptions that end because the connection ends must
    // not tell the client `stopped` (it would not resubscribe).
    if (this.ws.readyState !== this.ws.CLOSED && this.ws.readyState !== this.ws.CLOSING) this.ws.close(code, reason);
    this.ending();
  }

  /** Runs on the close event. */
  dispose() {
    this.clearTimer('auth');
    this.clearTimer('expiry');
    this.ending();
  }

  private ending() {
    const onClosing = this.onClosing;
    this.onClosing = null;
    onClosing?.();
  }
}
