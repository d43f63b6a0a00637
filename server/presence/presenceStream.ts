import type { PresenceEvent, PresenceStateEvent } from '../../shared/presence';

/** Events one watcher may have waiting; past this they collapse into one `presence_state`. */
const MAX_QUEUED = 1_000;

/**
 * One `presence.onChange` subscription: the async iterable its procedure
 * returns, which the transport (rpcSession.ts) iterates, one data frame per
 * event, with no tRPC `tracked` id (presence is not kept; a new subscription
 * starts from the current state). Its `return()` (the transport's stop, or
 * the connection's end) ends it at once, a pending `next()` included, and
 * takes it out of its investigation's watchers.
 */
export class PresenceStream implements AsyncIterable<PresenceEvent>, AsyncIterator<PresenceEvent> {
  private queue: PresenceEvent[] = [];
  private waiting: ((result: IteratorResult<PresenceEvent>) => void) | null = null;
  private closed = false;
  private started = false;
  private settleReady: { resolve: () => void; reject: (cause: unknown) => void } | null = null;
  /** Resolves once the first `presence_state` is queued; rejects when it could not be read. */
  readonly ready: Promise<void>;

  constructor(
    readonly investigationId: string,
    private readonly onClose: (stream: PresenceStream) => void,
    /** The current state, for a watcher that fell too far behind. */
    private readonly snapshot: () => PresenceStateEvent | null,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => undefined);
  }

  /** Whether it has had its `presence_state` (later events are changes to it). */
  get hasState(): boolean {
    return this.started;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(event: PresenceEvent) {
    if (this.closed) return;
    if (event.type === 'presence_state') {
      this.started = true;
      this.settleReady?.resolve();
      this.settleReady = null;
    }
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      waiting({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > MAX_QUEUED) {
      const state = this.snapshot();
      if (state) this.queue = [state];
    }
  }

  /** The first state could not be read: the procedure refuses the subscription. */
  fail(cause: unknown) {
    this.settleReady?.reject(cause);
    this.settleReady = null;
    this.close();
  }

  next(): Promise<IteratorResult<PresenceEvent>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<PresenceEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<PresenceEvent> {
    return this;
  }

  /** Ends the stream and leaves the watchers. Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.settleReady?.reject(new Error('closed'));
    this.settleReady = null;
    this.onClose(this);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ value: undefined, done: true });
  }
}
