import { isTrackedEnvelope } from '@trpc/server';
import { describe, expect, test } from 'vitest';
import { EventBus } from '../server/bus/eventBus';
import { createMemoryEngine } from '../server/bus/memoryEngine';
import type { EventDraft, InvestigationEvent } from '../shared/events';

const TOPIC = 'investigation:inv-1';

const progress = (value: number): EventDraft => ({
  type: 'investigation_update',
  data: { investigationId: 'inv-1', updateType: 'progress', progress: value },
});

/** A bus on the real memory engine, as the server builds it (no batching delay); disposable. */
function startBus() {
  const engine = createMemoryEngine();
  const bus = new EventBus({
    engine,
    batchWindowMs: 0,
    retentionOf: () => ({ maxEvents: 1_000, ttlMs: 3_600_000 }),
    maxQueuedEvents: 1_000,
  });
  return {
    bus,
    engine,
    /** Publishes `n` progress events one after another; resolves to their ids. */
    async publish(from: number, n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = from; i < from + n; i++) ids.push((await bus.publish(TOPIC, progress(i))).id);
      return ids;
    },
    async [Symbol.asyncDispose]() {
      bus.close();
      await engine.close();
    },
  };
}

/** The progress value of an investigation_update, to check order and content at once. */
function progressOf(event: InvestigationEvent): number | undefined {
  return event.type === 'investigation_update' && event.data.updateType === 'progress' ? event.data.progress : undefined;
}

describe('a TopicSubscription consumed with for await', () => {
  test('yields tracked [id, event] envelopes: the replay after startAfter, then live events, in order, once; break detaches it', async () => {
    await using b = startBus();
    const history = await b.publish(0, 5);

    const subscription = b.bus.open<InvestigationEvent>(TOPIC, { startAfter: history[1]!, ifUnknown: 'resync' });
    await subscription.ready;
    expect(b.bus.stats()).toEqual({ topics: 1, subscribers: 1 });

    const seen: { id: string; event: InvestigationEvent }[] = [];
    let live: string[] = [];
    for await (const envelope of subscription) {
      expect(isTrackedEnvelope(envelope)).toBe(true);
      const [id, event] = envelope;
      seen.push({ id, event });
      // Live events are published once the replay is through; the loop stops at the last one.
      if (id === history[4]) live = await b.publish(5, 3);
      if (live.length > 0 && id === live[2]) break;
    }

    expect(seen.map((s) => s.id)).toEqual([...history.slice(2), ...live]);
    expect(seen.map((s) => s.event.id)).toEqual(seen.map((s) => s.id));
    expect(seen.map((s) => progressOf(s.event))).toEqual([2, 3, 4, 5, 6, 7]);
    expect(seen.every((s) => s.event.timestamp instanceof Date)).toBe(true);

    // `break` ran the iterator's finally: the subscription left its topic, and the topic left the bus.
    expect(subscription.isClosed).toBe(true);
    expect(b.bus.stats()).toEqual({ topics: 0, subscribers: 0 });
    expect(b.engine.stats()).toMatchObject({ listenerTopics: 0 });
  });

  test('startAfter null yields live events only; closing the subscription from outside ends the loop', async () => {
    await using b = startBus();
    await b.publish(0, 3);

    const subscription = b.bus.open<InvestigationEvent>(TOPIC, { startAfter: null, ifUnknown: 'resync' });
    await subscription.ready;
    const live = await b.publish(3, 2);

    const ids: string[] = [];
    for await (const [id] of subscription) {
      ids.push(id);
      if (id === live[1]) subscription.close();
    }
    expect(ids).toEqual(live);
    expect(b.bus.stats()).toEqual({ topics: 0, subscribers: 0 });
  });

  test('an id the history does not reach yields resync_required first, then live events', async () => {
    await using b = startBus();
    const [head] = await b.publish(0, 1);

    const subscription = b.bus.open<InvestigationEvent>(TOPIC, { startAfter: '1-0', ifUnknown: 'resync' });
    await subscription.ready;
    const events: InvestigationEvent[] = [];
    let live: string[] = [];
    for await (const [, event] of subscription) {
      events.push(event);
      if (event.type === 'resync_required') live = await b.publish(1, 1);
      else break;
    }
    expect(events.map((e) => e.type)).toEqual(['resync_required', 'investigation_update']);
    expect(events[0]).toMatchObject({ id: head, data: { topic: TOPIC, lastEventId: '1-0', reason: 'unknown_event_id' } });
    expect(events[1]!.id).toBe(live[0]);
    expect(b.bus.stats()).toEqual({ topics: 0, subscribers: 0 });
  });
});
