import { type TrackedEnvelope, tracked } from '@trpc/server';
import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventId';
import type { RealtimeEvent } from '../../shared/events';
import type { HistoryRead } from './engine';
import type { BatchReceiver, TopicFanout } from './topicFanout';

/** Whether `id` was issued by this topic and has since been trimmed away. */
function wasTrimmed(read: HistoryRead, id: string): boolean {
  return (
    read.trimmedThrough !== null &&
    read.originId !== null &&
    compareEventIds(id, read.originId) >= 0 &&
    compareEventIds(id, read.trimmedThrough) < 0
  );
}

/**
 * Where a subscription's events go: the transport writes each batch to the
 * client at once (a subscription has no queue of its own once it is live).
 */
export interface EventSink {
  /**
   * Writes the events to the client now, in order; `flushed` (when given)
   * runs once they have left the server's buffers.
   */
  write(events: readonly RealtimeEvent[], flushed?: () => void): void;
  /**
   * Whether the client has so much unread that a replay should wait for what
   * it wrote to leave before writing more: a resume larger than the
   * connection's buffer bound is paced, not cut.
   */
  readonly busy: boolean;
  /** The subscription ended, however it ended. Called once. */
  ended(): void;
}

/** Who holds the subscription (a connection's slot): told when it overflows and when it ends. */
export interface SubscriptionOwner {
  /** More live events waited than the bound allows: a consumer that cannot keep up. */
  overflowed(): void;
  /** The subscription ended; called exactly once. */
  released(): void;
}

export interface SubscriptionOptions {
  /**
   * Where delivery starts: null for live events only; an event id to replay the
   * history after it (resume); `0-0` for everything retained.
   */
  startAfter: string | null;
  /**
   * What an id the history does not reach back to means: `resync` sends one
   * `resync_required` event (state must be refetched); `replay_retained` sends
   * what is kept (notifications: retention is the contract).
   */
  ifUnknown: 'resync' | 'replay_retained';
  owner?: SubscriptionOwner;
  /** Runs after each batch was handed to the sink. */
  onDelivered?: (events: readonly RealtimeEvent[]) => void;
}

/** What a subscription needs of the bus that opened it. */
export interface SubscriptionHost {
  /** Events a subscriber may hold before it counts as a slow consumer. */
  readonly maxQueuedEvents: number;
  detach(fanout: TopicFanout, receiver: BatchReceiver): void;
}

/**
 * One subscriber of one topic. It is attached to the topic's fan-out before the
 * history is read and holds live events until it has a sink and the replay is
 * written; then it delivers each id once, in order: history first, then live
 * events newer than the last one delivered. That makes resume gap-free and
 * duplicate-free on any engine, also when events are published during the
 * switch. Live, a batch goes from the fan-out to the sink in the same turn.
 *
 * Plain fields, no closures: a server holds one per subscribed client.
 */
export class TopicSubscription<E extends RealtimeEvent> implements BatchReceiver, AsyncIterable<TrackedEnvelope<E>> {
  /** Live events that arrived before the sink could take them (no sink yet, or a replay is being written). */
  private held: RealtimeEvent[] | null = [];
  private sink: EventSink | null = null;
  /**
   * The last id delivered, while a replay and the live feed may still
   * overlap (the fan-out can still hold, unflushed, events the history
   * already gave); null once a live batch came that was all new, after which
   * every batch is: live delivery then compares no ids at all.
   */
  private lastId: string | null = null;
  private closed = false;
  private readonly startAfter: string | null;
  private readonly ifUnknown: SubscriptionOptions['ifUnknown'];
  private readonly owner: SubscriptionOwner | null;
  private readonly onDelivered: SubscriptionOptions['onDelivered'] | null;

  constructor(
    private readonly host: SubscriptionHost,
    private readonly fanout: TopicFanout,
    /** The replay, read once the live feed carries everything newer; null for live only. */
    private history: Promise<HistoryRead> | null,
    opts: SubscriptionOptions,
  ) {
    this.startAfter = opts.startAfter;
    this.ifUnknown = opts.ifUnknown;
    this.owner = opts.owner ?? null;
    this.onDelivered = opts.onDelivered ?? null;
  }

  /** Resolves once every event published from now on will be delivered (rejects if the engine cannot say so). */
  get ready(): Promise<void> {
    return this.fanout.ready;
  }

  receive(batch: readonly RealtimeEvent[]) {
    if (this.closed) return;
    if (this.held !== null) {
      for (const event of batch) this.held.push(event);
      if (this.held.length > this.host.maxQueuedEvents) this.overflow();
      return;
    }
    if (this.lastId === null) {
      this.sink!.write(batch);
      this.onDelivered?.(batch);
      return;
    }
    const firstIsNew = compareEventIds(batch[0]!.id, this.lastId) > 0;
    this.deliver(batch);
    if (firstIsNew) this.lastId = null;
  }

  /**
   * Starts delivery to `sink`: the replay (if any) first, paced by the sink,
   * then live. Resolves once live; rejects when the history cannot be read
   * (the caller reports it and closes the subscription). Call once.
   */
  async start(sink: EventSink): Promise<void> {
    if (this.sink) throw new Error('a subscription has one sink');
    if (this.closed) return sink.ended();
    this.sink = sink;
    const history = this.history;
    this.history = null;
    if (history) await this.replay(await history);
    // Whatever arrived meanwhile, then live. `deliver` drops what the replay already covered.
    while (!this.closed && this.held !== null) {
      const held = this.held;
      if (held.length === 0) {
        this.held = null;
        break;
      }
      this.held = [];
      await this.deliverPaced(held);
    }
  }

  private async replay(read: HistoryRead) {
    const startAfter = this.startAfter;
    if (startAfter === null) throw new Error('replay without a start');
    // `0-0` asks for everything the topic keeps (a page rebuilding its state):
    // a trimmed history is no gap to report then, just less to replay.
    if (!read.found && this.ifUnknown === 'resync' && startAfter !== ORIGIN_EVENT_ID) {
      this.lastId = read.headId;
      this.sink!.write([
        {
          id: read.headId ?? ORIGIN_EVENT_ID,
          type: 'resync_required',
          timestamp: new Date(),
          data: {
            topic: this.fanout.topic,
            lastEventId: startAfter,
            reason: wasTrimmed(read, startAfter) ? 'history_trimmed' : 'unknown_event_id',
          },
        },
      ]);
      return;
    }
    this.lastId = read.found ? startAfter : null;
    await this.deliverPaced(read.events);
  }

  /**
   * Replays and what piled up meanwhile: one event at a time, waiting for the
   * client whenever its buffer is full, so a large replay never counts as a
   * slow consumer. (Live batches are small and go in one write.)
   */
  private async deliverPaced(events: readonly RealtimeEvent[]) {
    for (let i = 0; i < events.length && !this.closed; i++) {
      if (!this.sink!.busy) {
        this.deliver([events[i]!]);
        continue;
      }
      // Written with a callback, which comes once it (and all before it) left.
      await new Promise<void>((flushed) => {
        if (!this.deliver([events[i]!], flushed)) flushed();
      });
    }
  }

  /**
   * Hands the events newer than the last delivered one to the sink; false
   * when there were none (then `flushed` is not called).
   */
  private deliver(events: readonly RealtimeEvent[], flushed?: () => void): boolean {
    if (this.closed || events.length === 0) return false;
    let fresh = events;
    // Batches are in id order: when the first is new, all are, and the
    // per-event comparison (which parses both ids) is skipped.
    if (this.lastId !== null && compareEventIds(events[0]!.id, this.lastId) <= 0) {
      const lastId = this.lastId;
      fresh = events.filter((event) => compareEventIds(event.id, lastId) > 0);
      if (fresh.length === 0) return false;
    }
    this.lastId = fresh[fresh.length - 1]!.id;
    this.sink!.write(fresh, flushed);
    this.onDelivered?.(fresh);
    return true;
  }

  private overflow() {
    this.owner?.overflowed();
    this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Detaches from the topic and ends delivery. Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.held = null;
    this.history = null;
    this.host.detach(this.fanout, this);
    this.owner?.released();
    this.sink?.ended();
  }

  /**
   * The same delivery as an async iterable of `tracked` events, for a caller
   * that consumes the subscription itself (and for tRPC's type inference).
   * The transport uses `start` instead: no queue, no per-event promise.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TrackedEnvelope<E>, void, unknown> {
    let queue: RealtimeEvent[] = [];
    let wake: (() => void) | null = null;
    const wakeUp = () => {
      const fn = wake;
      wake = null;
      fn?.();
    };
    const started = this.start({
      write: (events) => {
        for (const event of events) queue.push(event);
        if (queue.length > this.host.maxQueuedEvents) this.overflow();
        wakeUp();
      },
      busy: false,
      ended: wakeUp,
    });
    try {
      await started;
      for (;;) {
        if (queue.length === 0) {
          if (this.closed) return;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const batch = queue;
        queue = [];
        for (const event of batch) yield tracked(event.id, event as E);
      }
    } finally {
      this.close();
    }
  }
}
