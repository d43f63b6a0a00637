import { isTrackedEnvelope } from '@trpc/server';
import { describe, expect, test } from 'vitest';
import type { EventEngine, EventListener, HistoryRead } from '../server/bus/engine';
import { EventBus } from '../server/bus/eventBus';
import { createMemoryEngine } from '../server/bus/memoryEngine';
import { ORIGIN_EVENT_ID } from '../shared/eventId';
import type { EventDraft, InvestigationEvent, RealtimeEvent } from '../shared/events';
import { waitFor } from './support/wait';

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

  test('an id the history does not reach yields resync_required (the point before what is kept) first, then what is kept, then live events', async () => {
    await using b = startBus();
    const [head] = await b.publish(0, 1);

    const subscription = b.bus.open<InvestigationEvent>(TOPIC, { startAfter: '1-0', ifUnknown: 'resync' });
    await subscription.ready;
    const events: InvestigationEvent[] = [];
    let live: string[] = [];
    for await (const [, event] of subscription) {
      events.push(event);
      if (event.id === head) live = await b.publish(1, 1);
      else if (event.type !== 'resync_required') break;
    }
    expect(events.map((e) => e.type)).toEqual(['resync_required', 'investigation_update', 'investigation_update']);
    expect(events[0]).toMatchObject({ id: '0-0', data: { topic: TOPIC, lastEventId: '1-0', reason: 'unknown_event_id' } });
    expect(events.slice(1).map((e) => e.id)).toEqual([head, live[0]]);
    expect(b.bus.stats()).toEqual({ topics: 0, subscribers: 0 });
  });
});

describe('a subscriber that falls too far behind', () => {
  test('while its replay waits for a client that does not read: start rejects with slow_consumer, and it has left its topic', async () => {
    const engine = createMemoryEngine();
    const bus = new EventBus({
      engine,
      batchWindowMs: 0,
      retentionOf: () => ({ maxEvents: 1_000, ttlMs: 3_600_000 }),
      maxQueuedEvents: 10,
    });
    await using _ = {
      async [Symbol.asyncDispose]() {
        bus.close();
        await engine.close();
      },
    };
    for (let i = 0; i < 3; i++) await bus.publish(TOPIC, progress(i));

    const subscription = bus.open<InvestigationEvent>(TOPIC, { startAfter: ORIGIN_EVENT_ID, ifUnknown: 'resync' });
    await subscription.ready;
    const written: string[] = [];
    // A client whose buffer is always full and never drains: the replay waits on its first event.
    const started = subscription.start({ busy: true, write: (events) => written.push(...events.map((e) => e.id)) });
    for (let i = 3; i < 3 + 11; i++) await bus.publish(TOPIC, progress(i));

    await expect(started).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'slow_consumer' });
    expect(subscription.isClosed).toBe(true);
    expect(written).toHaveLength(1);
    expect(bus.stats()).toEqual({ topics: 0, subscribers: 0 });
  });
});

/**
 * An engine whose history reads the test scripts, and whose live feed and
 * reconnects the test drives: what a Redis restarted empty looks like to the bus.
 */
function scriptedEngine(head: string) {
  let listener: EventListener = () => undefined;
  let reconnected: () => void = () => undefined;
  const reads: HistoryRead[] = [];
  const asked: string[] = [];
  const engine: EventEngine = {
    kind: 'redis',
    publish: () => Promise.reject(new Error('not in this test')),
    publishClaimed: () => Promise.reject(new Error('not in this test')),
    publishLive: () => Promise.reject(new Error('not in this test')),
    remember: () => Promise.reject(new Error('not in this test')),
    recall: () => Promise.reject(new Error('not in this test')),
    erase: () => Promise.reject(new Error('not in this test')),
    async readAfter(_topic, afterId) {
      asked.push(afterId);
      const read = reads.shift();
      if (!read) throw new Error(`no read scripted for ${afterId}`);
      return read;
    },
    subscribe(_topic, onEvent) {
      listener = onEvent;
      return { ready: Promise.resolve(), close: () => undefined };
    },
    head: async () => head,
    onReconnect(onBack) {
      reconnected = onBack;
      return () => undefined;
    },
    health: () => ({ kind: 'redis', status: 'ok' }),
    stats: () => ({}),
    close: async () => undefined,
  };
  return {
    engine,
    asked,
    /** The next history reads, in order. */
    willRead: (...next: HistoryRead[]) => reads.push(...next),
    live: (event: RealtimeEvent) => listener(event),
    reconnect: () => reconnected(),
  };
}

const event = (id: string, value: number): RealtimeEvent => ({ id, timestamp: new Date(), ...progress(value) }) as RealtimeEvent;
const read = (found: boolean, events: RealtimeEvent[], epoch: string, trimmedThrough: string | null = null): HistoryRead => ({
  found,
  events,
  headId: events.at(-1)?.id ?? null,
  originId: events[0]?.id ?? null,
  trimmedThrough,
  epoch,
});

/** A live subscriber of the bus whose sink records what it is handed. */
async function recordingSubscriber(bus: EventBus) {
  const subscription = bus.open<InvestigationEvent>(TOPIC, { startAfter: null, ifUnknown: 'resync' });
  await subscription.ready;
  const got: RealtimeEvent[] = [];
  await subscription.start({ busy: false, write: (events) => got.push(...events) });
  return { subscription, got };
}

describe('catch-up after the live feed was cut (Redis reconnected)', () => {
  const busOf = (engine: EventEngine) =>
    new EventBus({ engine, batchWindowMs: 0, retentionOf: () => ({ maxEvents: 1_000, ttlMs: 3_600_000 }), maxQueuedEvents: 1_000 });

  test('a history restarted empty: resync from the start, every event accepted since (ids lower than the old ones included), then live; nothing twice', async () => {
    const s = scriptedEngine('2000-5');
    const bus = busOf(s.engine);
    const { subscription, got } = await recordingSubscriber(bus);
    s.live(event('2000-6', 6));

    // Redis came back empty; it took two events (its clock behind the old one) before the nodes resubscribed.
    const accepted = [event('1500-0', 10), event('1500-1', 11)];
    s.willRead(read(false, accepted, 'life-2'));
    s.reconnect();
    // Live again meanwhile: the second accepted event once more, and a new one.
    s.live(accepted[1]!);
    s.live(event('1500-2', 12));
    await waitFor(
      () => got.length,
      (n) => n >= 5,
      'the catch-up and the live events',
    );
    s.live(event('1500-3', 13));

    expect(s.asked).toEqual(['2000-6']);
    expect(got.map((e) => [e.type, e.id])).toEqual([
      ['investigation_update', '2000-6'],
      ['resync_required', '0-0'],
      ['investigation_update', '1500-0'],
      ['investigation_update', '1500-1'],
      ['investigation_update', '1500-2'],
      ['investigation_update', '1500-3'],
    ]);
    expect(got[1]).toMatchObject({ data: { topic: TOPIC, lastEventId: '2000-6', reason: 'unknown_event_id' } });
    subscription.close();
    bus.close();
  });

  test('a trimmed history: the resync carries the newest trimmed id, then what is kept', async () => {
    const s = scriptedEngine('2000-5');
    const bus = busOf(s.engine);
    const { subscription, got } = await recordingSubscriber(bus);
    s.willRead(read(false, [event('2000-9', 9), event('2000-10', 10)], 'life-1', '2000-8'));
    s.reconnect();
    await waitFor(
      () => got.length,
      (n) => n >= 3,
      'the catch-up',
    );
    expect(got.map((e) => [e.type, e.id])).toEqual([
      ['resync_required', '2000-8'],
      ['investigation_update', '2000-9'],
      ['investigation_update', '2000-10'],
    ]);
    expect(got[0]).toMatchObject({ data: { lastEventId: '2000-5', reason: 'unknown_event_id' } });
    subscription.close();
    bus.close();
  });

  test('another life whose ids reach past the old ones (found, but another epoch): everything it keeps, after a resync', async () => {
    const s = scriptedEngine('2000-5');
    const bus = busOf(s.engine);
    const { subscription, got } = await recordingSubscriber(bus);
    // A first cut: nothing missed, and the bus learns the history's epoch.
    s.willRead(read(true, [], 'life-1'));
    s.reconnect();
    await waitFor(
      () => s.asked.length,
      (n) => n === 1,
      'the first catch-up',
    );
    // A second: a new history whose ids happen to pass the last one seen.
    const life2 = [event('1999-0', 20), event('2000-7', 21)];
    s.willRead(read(true, life2.slice(1), 'life-2'), read(true, life2, 'life-2'));
    s.reconnect();
    await waitFor(
      () => got.length,
      (n) => n >= 3,
      'the second catch-up',
    );
    expect(s.asked).toEqual(['2000-5', '2000-5', ORIGIN_EVENT_ID]);
    expect(got.map((e) => [e.type, e.id])).toEqual([
      ['resync_required', '0-0'],
      ['investigation_update', '1999-0'],
      ['investigation_update', '2000-7'],
    ]);
    subscription.close();
    bus.close();
  });
});
