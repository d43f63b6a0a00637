import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ConnectionType } from '../../shared/health';
import type { Principal } from '../auth/principal';
import { apiError } from '../errors';
import type { RealtimeEvent } from '../../shared/events';
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
}

/** Options of every data frame: text, complete, never compressed per call (ws decides with its own settings). */
const DATA_FRAME = { binary: false, fin: true } as const;

/**
 * What the server knows of one WebSocket connection. It lives from the upgrade
 * to the close event, and everything keyed by it is released on close.
 */
export class Connection {
  principal: Principal | null = null;
  /** Counted for its user (the limit admitted it); released on close. */
  admitted = false;
  /** The close event has fired. */
  gone = false;
  lastSeen = Date.now();
  subscriptions = 0;
  /** Resolves when the socket's buffer drains; shared by every replay waiting on it. */
  private draining: Promise<void> | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Aborted when the connection starts closing: its subscriptions stop at once. */
  private readonly life = new AbortController();

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    /** The raw socket under `ws`, which we cork to write a batch in one go. */
    private readonly socket: Duplex,
    readonly type: ConnectionType,
    /** The `?token=` of the URL, used when connectionParams carry none. */
    readonly queryToken: string | null,
    private readonly options: ConnectionOptions,
  ) {
    // One listener per subscription (bounded by maxSubscriptions).
    setMaxListeners(0, this.life.signal);
  }

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /**
   * Takes one of the connection's subscription slots (TOO_MANY_REQUESTS when
   * none is left) and returns the subscription's own signal: aborted when the
   * procedure's signal aborts (stop, disconnect) or when this connection starts
   * closing, whichever comes first. `release` gives the slot back; it runs by
   * itself on abort, and is idempotent.
   */
  leaseSubscription(procedureSignal: AbortSignal): { signal: AbortSignal; release: () => void } {
    if (this.subscriptions >= this.options.maxSubscriptions) throw apiError('too_many_subscriptions');
    this.subscriptions++;
    this.options.onSubscriptionsChanged(1);
    const stop = new AbortController();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      procedureSignal.removeEventListener('abort', release);
      this.life.signal.removeEventListener('abort', release);
      this.subscriptions--;
      this.options.onSubscriptionsChanged(-1);
      stop.abort();
    };
    if (procedureSignal.aborted || this.life.signal.aborted) {
      release();
    } else {
      procedureSignal.addEventListener('abort', release, { once: true });
      this.life.signal.addEventListener('abort', release, { once: true });
    }
    return { signal: stop.signal, release };
  }

  /**
   * Writes one frame per event (the client reads one response per frame) in
   * one go: `prefix` names the subscription, each event's tail is encoded
   * once for all its subscribers. A client that has more unread bytes than the
   * bound afterwards is a slow consumer.
   */
  writeEvents(prefix: string, events: readonly RealtimeEvent[]) {
    if (!this.isOpen) return;
    const { format } = this.options;
    this.socket.cork();
    for (let i = 0; i < events.length; i++) this.ws.send(prefix + format.tail(events[i]!), DATA_FRAME);
    this.socket.uncork();
    this.options.onDelivered(events.length);
    if (this.ws.bufferedAmount > this.options.slowConsumerBytes) this.options.onSlowConsumer(this);
  }

  /**
   * Null while the client reads fast enough to be written more; otherwise a
   * promise that resolves when the socket's buffer has drained (or the
   * connection closed). Replays wait on it between events.
   */
  drained(): Promise<void> | null {
    if (!this.isOpen) return null;
    if (this.ws.bufferedAmount < this.options.slowConsumerBytes / 4) return null;
    this.draining ??= new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.ws.off('close', done);
        this.draining = null;
        resolve();
      };
      this.socket.on('drain', done);
      this.ws.on('close', done);
    });
    return this.draining;
  }

  /** A subscription of this connection fell further behind than its queue bound: 4013 like a full buffer. */
  slowConsumer() {
    this.options.onSlowConsumer(this);
  }

  /** Bytes waiting to be written to this client: ws's queue plus the socket's. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** A timer that dies with the connection. */
  schedule(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.min(Math.max(ms, 0), 2_147_483_647));
    this.timers.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | undefined) {
    if (!timer) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  /**
   * Closes with one of our codes on the next turn: when tRPC's context
   * creation fails it first sends the error and then closes without a code on
   * its own next turn, and ours, queued first, wins.
   */
  closeSoon(code: number, reason: string) {
    setImmediate(() => this.close(code, reason));
  }

  /** Starts the closing handshake with our code; subscriptions stop now, not when the peer answers. */
  close(code: number, reason: string) {
    // Closing first: subscriptions that end because the connection ends must
    // not tell the client `stopped` (it would not resubscribe).
    if (this.ws.readyState !== this.ws.CLOSED && this.ws.readyState !== this.ws.CLOSING) this.ws.close(code, reason);
    this.life.abort();
  }

  /** Runs on the close event. */
  dispose() {
    this.life.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
