import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventIdOrder';
import type { RealtimeEvent } from '../../shared/events';
import { isCriticalEvent } from '../../shared/priority';
import type { EventEngine, HistoryRead, LiveFeed } from './engine';
import { resyncBefore } from './topicSubscription';

/**
 * Anything that takes the batches of a topic. A batch is one array handed to
 * every receiver and never changed afterwards (each flush starts a new one):
 * the transport encodes a live batch once by its identity (wireFormat.ts,
 * `batchEncoder`).
 */
export interface BatchReceiver {
  receive(batch: readonly RealtimeEvent[]): void;
}

/** A flush checks the clock every this many receivers (and smaller fan-outs go in one go). */
const SLICE_EVERY = 64;
/** How long one slice of a large flush may run before the event loop gets a turn. */
const FLUSH_SLICE_MS = 4;

/** How long a catch-up waits before trying again while the engine is still away. */
const CATCH_UP_RETRY_MS = 250;

/**
 * One per topic with local subscribers on this node: a single engine
 * subscription and a single batch timer, whatever the number of subscribers.
 * Events wait at most the batch window (a quiet topic's first event not at
 * all; `chat_token` events their shorter window, always); a critical event flushes what
 * is pending at once, itself included, so priority never reorders the topic.
 *
 * It remembers the last id it saw, so when the engine's live feed was cut
 * (Redis went away and came back) it reads what was published meanwhile from
 * the history and passes it on, in order, before the live events that
 * arrived during the catch-up.
 */
export class TopicFanout {
  private readonly receivers = new Set<BatchReceiver>();
  /** Resolves once every event published from now on reaches this fan-out. */
  readonly ready: Promise<void>;
  /** `ready` has resolved: a subscriber of a topic already live need not wait for it. */
  isReady = false;
  private pending: RealtimeEvent[] = [];
  /** A batch being handed to receivers slice by slice, and where it is. */
  private delivery: { batch: readonly RealtimeEvent[]; receivers: BatchReceiver[]; next: number; startedAt: number } | null = null;
  /** How long handing the last batch to every receiver took (ms). */
  private lastDeliveryMs = 0;
  /** Events of batches that flushed during a delivery, in order: they go out next, as one batch. */
  private queued: RealtimeEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires (performance.now() ms). */
  private timerDueAt = 0;
  /** When the last batch went out (performance.now() ms): a topic quiet for a window sends its next event at once. */
  private lastFlushAt = -Infinity;
  private readonly tokenWindowMs: number;
  private readonly live: LiveFeed;
  private lastSeenId: string | null = null;
  /** The life of the topic's history its last read saw (see HistoryRead.epoch); null before any. */
  private epoch: string | null = null;
  /** Live events held while a catch-up reads the history; null when none runs. */
  private heldDuringCatchUp: RealtimeEvent[] | null = null;
  private disposed = false;

  constructor(
    private readonly engine: EventEngine,
    readonly topic: string,
    private readonly batchWindowMs: number,
    private readonly onBatch?: (size: number) => void,
    /** The window of `chat_token` events (never longer than the batch window): a streamed reply flows, not in lumps. */
    tokenWindowMs = batchWindowMs,
  ) {
    this.tokenWindowMs = Math.min(tokenWindowMs, batchWindowMs);
    this.live = engine.subscribe(topic, (event) => this.onLive(event));
    this.ready = this.live.ready.then(async () => {
      // Where a catch-up would start if nothing arrives before the feed is cut:
      // the head, or the topic's very beginning when it has no event yet.
      try {
        const head = await engine.head(topic);
        this.lastSeenId ??= head ?? ORIGIN_EVENT_ID;
      } catch {
        // Unknown: a cut before the first live event cannot be repaired.
      }
      this.isReady = true;
    });
    // A failed start is reported to the subscriber awaiting `ready`; here it must not go unhandled.
    this.ready.catch(() => undefined);
  }

  /** Takes the topic's batches from now on. */
  add(receiver: BatchReceiver) {
    this.receivers.add(receiver);
  }

  /** Stops giving `receiver` batches; false when it was not a receiver. */
  remove(receiver: BatchReceiver): boolean {
    return this.receivers.delete(receiver);
  }

  get isEmpty(): boolean {
    return this.receivers.size === 0;
  }

  private onLive(event: RealtimeEvent) {
    if (this.heldDuringCatchUp) this.heldDuringCatchUp.push(event);
    else this.accept(event);
  }

  private accept(event: RealtimeEvent) {
    if (this.lastSeenId !== null && event.type !== 'resync_required' && compareEventIds(event.id, this.lastSeenId) <= 0) return;
    this.lastSeenId = event.id;
    this.pending.push(event);
    const isToken = event.type === 'chat_token';
    const window = isToken ? this.tokenWindowMs : this.batchWindowMs;
    if (window === 0 || isCriticalEvent(event)) {
      this.flush();
      return;
    }
    if (isToken) {
      this.awaitToken();
      return;
    }
    // A batch already waits for its window, which a normal event cannot shorten.
    if (this.timer) return;
    // The window is a bound, not a delay: the first event of a topic quiet for
    // a whole window goes at once, and what follows waits for company until a
    // window after the last batch. That bounds the wait until the batch is
    // written to every subscriber, so the time the last delivery took comes
    // off it; when that was the whole window (a large fan-out under load), the
    // batch still waits for the next turn of the event loop, so the events of
    // this turn go together rather than each to every subscriber alone.
    const now = performance.now();
    if (now - this.lastFlushAt >= window) {
      this.flush();
      return;
    }
    const dueAt = Math.max(now, this.lastFlushAt + window - this.lastDeliveryMs);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => this.flush(), dueAt - now);
  }

  /**
   * A streamed reply's tokens come in bursts, each a few bytes: every one
   * written alone costs a frame and a write, and a node that falls behind
   * would see each reply's tokens spaced wider than the window and write every
   * one alone, falling further behind. So a token always waits for company,
   * up to the (short) token window from the first one pending, and a batch
   * waiting for a longer window goes at the token's pace.
   */
  private awaitToken() {
    const window = this.tokenWindowMs;
    const dueAt = performance.now() + window;
    if (this.timer) {
      if (this.timerDueAt <= dueAt) return;
      clearTimeout(this.timer);
    }
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => this.flush(), window);
  }

  /**
   * Reads what was published since the last event seen and passes it on.
   * When the history no longer reaches that far (trimmed meanwhile, or lost:
   * a Redis restarted empty), subscribers get `resync_required` with the id
   * just before the first retained event, then every retained event: nothing
   * accepted since is skipped. The ids after the resync may be lower than the
   * last one seen (a new life of the topic): `accept` lets them through.
   */
  async catchUp(): Promise<void> {
    if (this.heldDuringCatchUp || this.disposed) return;
    this.heldDuringCatchUp = [];
    try {
      for (;;) {
        const since = this.lastSeenId;
        if (since === null) break;
        try {
          const read = await this.readSince(since);
          if (this.disposed) return;
          if (!read.found) this.accept(resyncBefore(read, this.topic, since));
          for (const event of read.events) this.accept(event);
          break;
        } catch {
          if (this.disposed) return;
          await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS));
        }
      }
    } finally {
      const held = this.heldDuringCatchUp ?? [];
      this.heldDuringCatchUp = null;
      for (const event of held) this.accept(event);
    }
  }

  /**
   * The history after `since`; when it is another life than the one read last
   * (its ids may even overlap the old ones), all it retains, as not found.
   */
  private async readSince(since: string): Promise<HistoryRead> {
    const read = await this.engine.readAfter(this.topic, since);
    const known = this.epoch;
    this.epoch = read.epoch;
    if (!read.found || since === ORIGIN_EVENT_ID || known === null || read.epoch === known) return read;
    const all = await this.engine.readAfter(this.topic, ORIGIN_EVENT_ID);
    return { ...all, found: false };
  }

  /**
   * Hands the pending batch to every receiver. With many receivers the
   * delivery runs in slices of at most FLUSH_SLICE_MS, letting the event
   * loop turn in between (publishers, pings, other topics); a batch that
   * flushes meanwhile waits for it, so every receiver still gets the
   * batches in order. `now` finishes everything before returning (shutdown).
   */
  flush(now = false) {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.lastFlushAt = performance.now();
      if (this.delivery) for (const event of batch) this.queued.push(event);
      else this.deliver(batch);
    }
    if (now) while (this.delivery) this.continueDelivery(true);
  }

  private deliver(batch: readonly RealtimeEvent[]) {
    this.onBatch?.(batch.length);
    const startedAt = performance.now();
    if (this.receivers.size <= SLICE_EVERY) {
      for (const receiver of this.receivers) receiver.receive(batch);
      this.lastDeliveryMs = performance.now() - startedAt;
      return;
    }
    // A snapshot: a receiver that attaches during the delivery came after
    // these events were published (and a resume reads them from the history).
    this.delivery = { batch, receivers: [...this.receivers], next: 0, startedAt };
    this.continueDelivery(false);
  }

  private continueDelivery(all: boolean) {
    const delivery = this.delivery;
    if (!delivery) return;
    const { batch, receivers } = delivery;
    const started = performance.now();
    while (delivery.next < receivers.length) {
      receivers[delivery.next++]!.receive(batch);
      if (!all && delivery.next % SLICE_EVERY === 0 && performance.now() - started > FLUSH_SLICE_MS) {
        setImmediate(() => {
          if (this.delivery === delivery) this.continueDelivery(false);
        });
        return;
      }
    }
    this.delivery = null;
    this.lastDeliveryMs = performance.now() - delivery.startedAt;
    if (this.queued.length > 0) {
      const next = this.queued;
      this.queued = [];
      this.deliver(next);
    }
  }

  /** Stops the timer and the engine subscription; pending events are dropped with the last receiver. */
  dispose() {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.delivery = null;
    this.queued = [];
    this.heldDuringCatchUp = null;
    this.live.close();
  }
}
