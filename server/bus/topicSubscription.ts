import { type TrackedEnvelope, tracked } from '@trpc/server';
import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventId';
import type { EventOfType, RealtimeEvent } from '../../shared/events';
import { apiError } from '../errors';
import type { HistoryRead } from './engine';
import type { EventBus } from './eventBus';
import type { TopicFanout } from './topicFanout';

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
 * The `resync_required` of a history read that does not reach `lastEventId`:
 * its id is the point just before the first event still retained, and those
 * events follow it, so nothing published since is lost, and a client that
 * resumes from the resync's id later gets exactly them.
 */
export function resyncBefore(read: HistoryRead, topic: string, lastEventId: string): EventOfType<'resync_required'> {
  return {
    id: read.trimmedThrough ?? ORIGIN_EVENT_ID,
    type: 'resync_required',
    timestamp: new Date(),
    data: { topic, lastEventId, reason: wasTrimmed(read, lastEventId) ? 'history_trimmed' : 'unknown_event_id' },
  };
}

/**
 * The events of `events` a subscriber that got `lastId` last has not had, in
 * order. A `resync_required` always passes and starts a new life of the
 * topic: the ids after it are compared with its id, not with the old ones
 * (a history lost and started again numbers its events anew).
 */
function newerThan(events: readonly RealtimeEvent[], lastId: string): RealtimeEvent[] {
  const fresh: RealtimeEvent[] = [];
  let after = lastId;
  for (const event of events) {
    if (event.type !== 'resync_required' && compareEventIds(event.id, after) <= 0) continue;
    fresh.push(event);
    after = event.id;
  }
  return fresh;
}

/**
 * Where a subscription's events go: the transport writes each batch to the
 * client at once (a subscription has no queue of its own once it is live).
 * Data only: the subscription's end is its owner's doing, never the sink's
 * to learn.
 */
export interface EventSink {
  /**
   * Writes the events to the client now, in order; `flushed` (when given)
   * runs once they have left the server's buffers. `live`: they come straight
   * from the fan-out (not a replay), so their latency means something.
   */
  write(events: readonly RealtimeEvent[], live: boolean, flushed?: () => void): void;
  /**
   * Whether the client has so much unread that a replay should wait for what
   * it wrote to leave before writing more: a resume larger than the
   * connection's buffer bound is paced, not cut.
   */
  readonly busy: boolean;
}

export interface SubscriptionOptions {
  /**
   * Where delivery starts: null for live events only; an event id to replay the
   * history after it (resume); `0-0` for everything retained.
   */
  startAfter: string | null;
  /**
   * What an id the history does not reach back to means: `resync` sends one
   * `resync_required` event (state must be refetched) followed by what is
   * retained; `replay_retained` sends what is retained alone (notifications:
   * retention is the contract).
   */
  ifUnknown: 'resync' | 'replay_retained';
  /** Runs after each batch was handed to the sink. */
  onDelivered?: (events: readonly RealtimeEvent[]) => void;
}

const OPEN = 0;
const CLOSED = 1;
/** Closed because more live events waited than it may hold: its owner ends the client (4013). */
const OVERFLOWED = 2;

/**
 * One subscriber of one topic. It is attached to the topic's fan-out before the
 * history is read and holds live events until it has a sink and the replay is
 * written; then it delivers each id once, in order: history first, then live
 * events newer than the last one delivered. That makes resume gap-free and
 * duplicate-free on any engine, also when events are published during the
 * switch. Live, a batch goes from the fan-out to the sink in the same turn.
 *
 * Its owner (the transport's session) ends it with `close`; the only end it
 * comes to by itself, holding more live events than it may, is reported to
 * the owner by `start`, which rejects (`slow_consumer`).
 *
 * Plain fields, no closures: a server holds one per subscribed client.
 */
export class TopicSubscription<E extends RealtimeEvent> implements AsyncIterable<TrackedEnvelope<E>> {
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
  private state = OPEN;
  private readonly startAfter: string | null;
  private readonly ifUnknown: SubscriptionOptions['ifUnknown'];
  private readonly onDelivered: SubscriptionOptions['onDelivered'] | null;
  /** Runs once when the subscription closes (`whenClosed`), with its argument. */
  private onClose: ((arg: never) => void) | null = null;
  private onCloseArg: unknown = null;
  /** Wakes whoever waits on this subscription (a paced replay, the async iterator) when it closes. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly bus: EventBus,
    private readonly fanout: TopicFanout,
    /** The replay, read once the live feed carries everything newer; null for live only. */
    private history: Promise<HistoryRead> | null,
    opts: SubscriptionOptions,
  ) {
    this.startAfter = opts.startAfter;
    this.ifUnknown = opts.ifUnknown;
    this.onDelivered = opts.onDelivered ?? null;
  }

  /**
   * Runs `callback(arg)` once when the subscription closes, whoever closes it
   * (the transport's stop or end, its own overflow); at once if it already
   * has. One per subscription (presence counts its members so); a shared
   * function and its argument, so nothing is made per subscription.
   */
  whenClosed<T>(callback: (arg: T) => void, arg: T) {
    if (this.state !== OPEN) return callback(arg);
    this.onClose = callback;
    this.onCloseArg = arg;
  }

  /** The topic it is a subscriber of (what admin.revokeAccess matches). */
  get topic(): string {
    return this.fanout.topic;
  }

  /** Resolves once every event published from now on will be delivered (rejects if the engine cannot say so). */
  get ready(): Promise<void> {
    return this.fanout.ready;
  }

  /** `ready` has resolved already (the topic had live subscribers on this node). */
  get isReady(): boolean {
    return this.fanout.isReady;
  }

  /** The fan-out's: a batch of the topic, in order. */
  receive(batch: readonly RealtimeEvent[]) {
    if (this.state !== OPEN) return;
    if (this.held !== null) {
      for (const event of batch) this.held.push(event);
      if (this.held.length > this.bus.maxQueuedEvents) this.overflow();
      return;
    }
    if (this.lastId === null) {
      this.sink!.write(batch, true);
      this.onDelivered?.(batch);
      return;
    }
    const firstIsNew = compareEventIds(batch[0]!.id, this.lastId) > 0;
    this.deliver(batch);
    if (firstIsNew) this.lastId = null;
  }

  /**
   * Starts delivery to `sink`: the replay (if any) first, paced by the sink,
   * then live. Resolves once live (or closed); rejects when the history
   * cannot be read (the caller reports it and closes the subscription) or
   * when it held more live events than it may meanwhile (`slow_consumer`:
   * it is closed already). Call once.
   */
  async start(sink: EventSink): Promise<void> {
    if (this.sink) throw new Error('a subscription has one sink');
    this.sink = sink;
    const history = this.history;
    this.history = null;
    if (history && this.state === OPEN) await this.replay(await history);
    // Whatever arrived meanwhile, then live. `deliver` drops what the replay already covered.
    while (this.state === OPEN && this.held !== null) {
      const held = this.held;
      if (held.length === 0) {
        this.held = null;
        break;
      }
      this.held = [];
      await this.deliverPaced(held);
    }
    if (this.state === OVERFLOWED) throw apiError('slow_consumer');
  }

  private async replay(read: HistoryRead) {
    const startAfter = this.startAfter;
    if (startAfter === null) throw new Error('replay without a start');
    // `0-0` asks for everything the topic keeps (a page rebuilding its state):
    // a trimmed history is no gap to report then, just less to replay.
    if (!read.found && this.ifUnknown === 'resync' && startAfter !== ORIGIN_EVENT_ID) {
      const resync = resyncBefore(read, this.fanout.topic, startAfter);
      this.lastId = resync.id;
      this.sink!.write([resync], false);
    } else {
      this.lastId = read.found ? startAfter : null;
    }
    await this.deliverPaced(read.events);
  }

  /**
   * Replays and what piled up meanwhile: one event at a time, waiting for the
   * client whenever its buffer is full, so a large replay never counts as a
   * slow consumer. (Live batches are small and go in one write.)
   */
  private async deliverPaced(events: readonly RealtimeEvent[]) {
    for (let i = 0; i < events.length && this.state === OPEN; i++) {
      if (!this.sink!.busy) {
        this.deliver([events[i]!]);
        continue;
      }
      // Written with a callback, which comes once it (and all before it) left,
      // or sooner if the subscription closes meanwhile (the client may never read it).
      await new Promise<void>((flushed) => {
        this.wake = flushed;
        if (!this.deliver([events[i]!], flushed)) flushed();
      });
      this.wake = null;
    }
  }

  /**
   * Hands the events newer than the last delivered one to the sink; false
   * when there were none (then `flushed` is not called).
   */
  private deliver(events: readonly RealtimeEvent[], flushed?: () => void): boolean {
    if (this.state !== OPEN || events.length === 0) return false;
    let fresh = events;
    // Batches are in id order: when the first is new, all are, and the
    // per-event comparison (which parses both ids) is skipped.
    if (this.lastId !== null && compareEventIds(events[0]!.id, this.lastId) <= 0) {
      fresh = newerThan(events, this.lastId);
      if (fresh.length === 0) return false;
    }
    this.lastId = fresh[fresh.length - 1]!.id;
    this.sink!.write(fresh, false, flushed);
    this.onDelivered?.(fresh);
    return true;
  }

  private overflow() {
    this.close();
    this.state = OVERFLOWED;
  }

  get isClosed(): boolean {
    return this.state !== OPEN;
  }

  /** Leaves the topic and ends delivery. Idempotent. */
  close() {
    if (this.state !== OPEN) return;
    this.state = CLOSED;
    this.held = null;
    this.history = null;
    this.bus.leave(this.fanout, this);
    const onClose = this.onClose as ((arg: unknown) => void) | null;
    const arg = this.onCloseArg;
    this.onClose = this.onCloseArg = null;
    onClose?.(arg);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * The same delivery as an async iterable of `tracked` events, for a caller
   * that consumes the subscription itself (and for tRPC's type inference).
   * The transport uses `start` instead: no queue, no per-event promise.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TrackedEnvelope<E>, void, unknown> {
    let queue: RealtimeEvent[] = [];
    const started = this.start({
      write: (events) => {
        for (const event of events) queue.push(event);
        if (queue.length > this.bus.maxQueuedEvents) this.overflow();
        const wake = this.wake;
        this.wake = null;
        wake?.();
      },
      busy: false,
    });
    try {
      await started;
      for (;;) {
        if (queue.length === 0) {
          if (this.state === OVERFLOWED) throw apiError('slow_consumer');
          if (this.state === CLOSED) return;
          await new Promise<void>((resolve) => (this.wake = resolve));
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
