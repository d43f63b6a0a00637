import type { EventDraft, RealtimeEvent } from '../../shared/events';
import { apiError } from '../errors';
import type { EventEngine, HistoryRead, IdempotencyClaim, Retention } from './engine';
import { type BatchReceiver, TopicFanout } from './topicFanout';
import { type SubscriptionOptions, TopicSubscription } from './topicSubscription';

export interface BusOptions {
  engine: EventEngine;
  batchWindowMs: number;
  /** The window of `chat_token` events (default: the batch window). */
  tokenWindowMs?: number;
  /** The retention of a topic (notifications keep their own). */
  retentionOf: (topic: string) => Retention;
  /** Events one subscriber may have waiting before it counts as a slow consumer. */
  maxQueuedEvents: number;
  onPublished?: (event: RealtimeEvent) => void;
  /** A topic handed a batch of `size` events to its subscribers on this node. */
  onBatch?: (size: number) => void;
}

/**
 * The engine could not answer: the same refusal for every caller of the bus,
 * naming what the engine said, unless it is the runtime's own text (a
 * RangeError: an event nested too deeply to serialize), which stays inside.
 */
function unavailable(cause: unknown) {
  return apiError('engine_unavailable', cause instanceof Error && !(cause instanceof RangeError) ? cause.message : undefined);
}

/**
 * The event bus: publishers hand events to the engine, subscribers get them in
 * batches from a per-topic fan-out on this node. It owns the fan-outs: one is
 * made for a topic's first subscriber on this node and disposed of when its
 * last one leaves.
 */
export class EventBus {
  private readonly fanouts = new Map<string, TopicFanout>();
  private subscriberCount = 0;

  private readonly stopReconnect: () => void;

  constructor(private readonly opts: BusOptions) {
    this.stopReconnect = opts.engine.onReconnect(() => {
      for (const fanout of this.fanouts.values()) void fanout.catchUp();
    });
  }

  /** Fails with `engine_unavailable` when the engine cannot take the event: never a silent drop. */
  publish(topic: string, draft: EventDraft): Promise<RealtimeEvent> {
    return this.hand('publish', topic, draft);
  }

  /**
   * A live-only event (`EventEngine.publishLive`): numbered and delivered like
   * any other, never replayed. Fails with `engine_unavailable` like `publish`.
   */
  publishLive(topic: string, draft: EventDraft): Promise<RealtimeEvent> {
    return this.hand('publishLive', topic, draft);
  }

  /** Hands an event to the engine (stored, or live only) and counts it. */
  private async hand(how: 'publish' | 'publishLive', topic: string, draft: EventDraft): Promise<RealtimeEvent> {
    let event: RealtimeEvent;
    try {
      event = await this.opts.engine[how](topic, draft, this.opts.retentionOf(topic));
    } catch (cause) {
      throw unavailable(cause);
    }
    this.opts.onPublished?.(event);
    return event;
  }

  /**
   * `publish` under an idempotency claim (see `EventEngine.publishClaimed`):
   * the id stored for the claim, and whether it was stored before (a
   * duplicate is neither fanned out again nor counted as published). Fails
   * with `idempotency_conflict` when the claim was made for another payload.
   */
  async publishClaimed(topic: string, draft: EventDraft, claim: IdempotencyClaim): Promise<{ id: string; duplicate: boolean }> {
    let outcome: Awaited<ReturnType<EventEngine['publishClaimed']>>;
    try {
      outcome = await this.opts.engine.publishClaimed(topic, draft, this.opts.retentionOf(topic), claim);
    } catch (cause) {
      throw unavailable(cause);
    }
    if (outcome.status === 'conflict') throw apiError('idempotency_conflict');
    if (outcome.status === 'duplicate') return { id: outcome.id, duplicate: true };
    this.opts.onPublished?.(outcome.event);
    return { id: outcome.event.id, duplicate: false };
  }

  /** The record of a whole idempotent call, kept if none is there yet (`EventEngine.remember`). */
  async remember(key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.opts.engine.remember(key, value, ttlMs);
    } catch (cause) {
      throw unavailable(cause);
    }
  }

  async recall(key: string): Promise<string | null> {
    try {
      return await this.opts.engine.recall(key);
    } catch (cause) {
      throw unavailable(cause);
    }
  }

  /**
   * Removes a topic's retained events, its metadata and idempotency records
   * (LGPD erasure); returns how many events were removed. Subscribers open on
   * the topic are not touched. Fails with `engine_unavailable` like `publish`.
   */
  async erase(topic: string): Promise<number> {
    try {
      return await this.opts.engine.erase(topic);
    } catch (cause) {
      throw unavailable(cause);
    }
  }

  /**
   * The retained events of a topic after `afterId` (`0-0`: all): a one-off
   * read, with no live feed (a subscription that resumes reads it through
   * `open`). Fails with `engine_unavailable` like `publish`.
   */
  async history(topic: string, afterId: string): Promise<HistoryRead> {
    try {
      return await this.opts.engine.readAfter(topic, afterId);
    } catch (cause) {
      throw unavailable(cause);
    }
  }

  /** Events one subscriber may hold before it counts as a slow consumer. */
  get maxQueuedEvents(): number {
    return this.opts.maxQueuedEvents;
  }

  /**
   * Opens a subscription: attached to the topic now (so nothing published from
   * here on is missed), replaying from `startAfter` when given.
   */
  open<E extends RealtimeEvent>(topic: string, opts: SubscriptionOptions): TopicSubscription<E> {
    let fanout = this.fanouts.get(topic);
    if (!fanout) {
      fanout = new TopicFanout(this.opts.engine, topic, this.opts.batchWindowMs, this.opts.onBatch, this.opts.tokenWindowMs);
      this.fanouts.set(topic, fanout);
    }
    const { startAfter } = opts;
    // The history is read once the live feed is certain to carry everything
    // newer, so the two overlap and never leave a gap.
    const history = startAfter === null ? null : fanout.ready.then(() => this.history(fanout.topic, startAfter));
    // Reported to whoever starts the subscription; one closed before that must not leave it unhandled.
    history?.catch(() => undefined);
    const subscription = new TopicSubscription<E>(this, fanout, history, opts);
    fanout.add(subscription);
    this.subscriberCount++;
    return subscription;
  }

  /** A subscription closed (`TopicSubscription.close`): it leaves its fan-out, and an empty fan-out goes. */
  leave(fanout: TopicFanout, receiver: BatchReceiver) {
    if (!fanout.remove(receiver)) return;
    this.subscriberCount--;
    if (fanout.isEmpty) {
      fanout.dispose();
      if (this.fanouts.get(fanout.topic) === fanout) this.fanouts.delete(fanout.topic);
    }
  }

  stats() {
    return { topics: this.fanouts.size, subscribers: this.subscriberCount };
  }

  /** Flushes every pending batch (graceful shutdown). */
  flushAll() {
    for (const fanout of this.fanouts.values()) fanout.flush(true);
  }

  close() {
    this.stopReconnect();
    for (const fanout of this.fanouts.values()) fanout.dispose();
    this.fanouts.clear();
  }
}
