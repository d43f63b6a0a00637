import { tracked, type TrackedEnvelope } from '@trpc/server';
import { ORIGIN_EVENT_ID, compareEventIds } from '../../shared/eventId';
import type { RealtimeEvent } from '../../shared/events';
import type { HistoryRead } from './engine';
import type { BatchReceiver } from './topicFanout';

/** Whether `id` was issued by this topic and has since been trimmed away. */
function wasTrimmed(read: HistoryRead, id: string): boolean {
  return (
    read.trimmedThrough !== null &&
    read.originId !== null &&
    compareEventIds(id, read.originId) >= 0 &&
    compareEventIds(id, read.trimmedThrough) < 0
  );
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
  /** Cancels the subscription (tRPC's per-subscription signal). */
  signal: AbortSignal;
  /** Runs before a batch is yielded, so the transport can write it in one go. */
  beforeBatch?: () => void;
  /** Runs after each event was handed to the transport. */
  onDelivered?: (event: RealtimeEvent) => void;
  /** Runs when more events wait than the bound allows (a consumer that cannot keep up). */
  onOverflow?: () => void;
  /** Runs exactly once when the subscription ends, however it ends. */
  onClose?: () => void;
}

export interface SubscriptionDeps {
  topic: string;
  /** Resolves once the topic's live feed carries every new event. */
  ready: Promise<void>;
  history: Promise<HistoryRead> | null;
  maxQueuedEvents: number;
  detach: (receiver: BatchReceiver) => void;
}

/**
 * One subscriber of one topic. It is attached to the topic's fan-out before the
 * history is read, holds live events while the replay is prepared, and then
 * delivers each id once, in order: history first, then live events newer than
 * the last one delivered. That makes resume gap-free and duplicate-free on any
 * engine, also when events are published during the switch.
 */
export class TopicSubscription<E extends RealtimeEvent> implements BatchReceiver, AsyncIterable<TrackedEnvelope<E>> {
  private replaying: boolean;
  private held: RealtimeEvent[] = [];
  private queue: RealtimeEvent[] = [];
  private lastId: string | null = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly deps: SubscriptionDeps,
    private readonly opts: SubscriptionOptions,
  ) {
    this.replaying = deps.history !== null;
    if (opts.signal.aborted) this.close();
    else opts.signal.addEventListener('abort', this.close, { once: true });
  }

  /** Resolves once every event published from now on will be delivered (rejects if the engine cannot say so). */
  get ready(): Promise<void> {
    return this.deps.ready;
  }

  receive(batch: readonly RealtimeEvent[]) {
    if (this.closed) return;
    if (this.replaying) {
      for (const event of batch) this.held.push(event);
      if (this.held.length > this.deps.maxQueuedEvents) this.overflow();
      return;
    }
    this.enqueue(batch);
    if (this.queue.length > this.deps.maxQueuedEvents) this.overflow();
    else this.wakeUp();
  }

  private enqueue(events: readonly RealtimeEvent[]) {
    if (events.length === 0) return;
    // Batches are in id order: when the first is new, all are, and the
    // per-event comparison (which parses both ids) is skipped. It is only
    // needed where a replay and the live feed overlap.
    if (this.lastId === null || compareEventIds(events[0]!.id, this.lastId) > 0) {
      for (const event of events) this.queue.push(event);
      this.lastId = events[events.length - 1]!.id;
      return;
    }
    for (const event of events) {
      if (compareEventIds(event.id, this.lastId) <= 0) continue;
      this.queue.push(event);
      this.lastId = event.id;
    }
  }

  private overflow() {
    this.opts.onOverflow?.();
    this.close();
  }

  private wakeUp() {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Detaches from the topic and ends the iteration. Idempotent. */
  readonly close = () => {
    if (this.closed) return;
    this.closed = true;
    this.opts.signal.removeEventListener('abort', this.close);
    this.held = [];
    this.queue = [];
    this.deps.detach(this);
    this.wakeUp();
    this.opts.onClose?.();
  };

  private async startReplay() {
    const { startAfter, ifUnknown } = this.opts;
    const read = await this.deps.history!;
    if (startAfter === null) throw new Error('replay without a start');
    if (read.found || ifUnknown === 'replay_retained') {
      this.lastId = read.found ? startAfter : null;
      this.enqueue(read.events);
    } else {
      const resync = {
        id: read.headId ?? ORIGIN_EVENT_ID,
        type: 'resync_required',
        timestamp: new Date(),
        data: {
          topic: this.deps.topic,
          lastEventId: startAfter,
          reason: wasTrimmed(read, startAfter) ? 'history_trimmed' : 'unknown_event_id',
        },
      } satisfies RealtimeEvent;
      this.queue.push(resync);
      this.lastId = read.headId;
    }
    const held = this.held;
    this.held = [];
    this.replaying = false;
    this.enqueue(held);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TrackedEnvelope<E>, void, unknown> {
    try {
      if (this.replaying) await this.startReplay();
      while (!this.closed) {
        if (this.queue.length === 0) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        const batch = this.queue;
        this.queue = [];
        this.opts.beforeBatch?.();
        for (const event of batch) {
          yield tracked(event.id, event as E);
          this.opts.onDelivered?.(event);
          if (this.closed) return;
        }
      }
    } finally {
      this.close();
    }
  }
}
