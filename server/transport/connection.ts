import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ConnectionType } from '../../shared/health';
import type { Principal } from '../auth/principal';
import { apiError } from '../errors';

export interface ConnectionHooks {
  maxSubscriptions: number;
  onSubscriptionsChanged: (delta: 1 | -1) => void;
}

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
  private corked = false;
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
    private readonly hooks: ConnectionHooks,
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
    if (this.subscriptions >= this.hooks.maxSubscriptions) throw apiError('too_many_subscriptions');
    this.subscriptions++;
    this.hooks.onSubscriptionsChanged(1);
    const stop = new AbortController();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      procedureSignal.removeEventListener('abort', release);
      this.life.signal.removeEventListener('abort', release);
      this.subscriptions--;
      this.hooks.onSubscriptionsChanged(-1);
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
   * Corks the socket until the end of this turn of the event loop, so the
   * frames of a batch (one per event: the client reads one response per frame)
   * leave in one write.
   */
  cork() {
    if (this.corked || this.socket.destroyed) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
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
    this.life.abort();
    if (this.ws.readyState === this.ws.CLOSED || this.ws.readyState === this.ws.CLOSING) return;
    this.ws.close(code, reason);
  }

  /** Runs on the close event. */
  dispose() {
    this.life.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
