import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { EventEngine, Retention } from '../server/bus/engine';
import { compareEventIds, eventIdSchema, ORIGIN_EVENT_ID } from '../shared/eventId';
import type { EventDraft, RealtimeEvent } from '../shared/events';

/**
 * The behaviour every EventEngine must have, tested only through the
 * interface, so the memory engine and the Redis engine run the same suite:
 *
 *   describeEngineContract('memory', async () => createMemoryEngine());
 *
 * Topic names are unique per test, so an engine backed by a shared store
 * (Redis) needs no cleanup between tests or runs.
 */
/** What reading a topic with no history at all from its beginning returns: found, nothing in it. */
const NOTHING_KEPT = { found: true, events: [], headId: null, originId: null, trimmedThrough: null, epoch: null };

export function describeEngineContract(
  name: string,
  makeEngine: () => Promise<EventEngine>,
  describeFn: (name: string, body: () => void) => void = describe,
) {
  describeFn(`EventEngine contract: ${name}`, () => {
    const open: EventEngine[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((engine) => engine.close()));
    });

    async function engine(): Promise<EventEngine> {
      const e = await makeEngine();
      open.push(e);
      return e;
    }

    const topic = (label = 't') => `investigation:contract-${label}-${randomUUID()}`;
    const keep: Retention = { maxEvents: 10_000, ttlMs: 3_600_000 };
    const draft = (progress: number): EventDraft => ({
      type: 'investigation_update',
      data: { investigationId: 'contract', updateType: 'progress', progress: progress % 101, stage: `step ${progress}` },
    });

    /** Publishes `n` events one after another. */
    async function publishMany(e: EventEngine, t: string, n: number, retention = keep, from = 0): Promise<RealtimeEvent[]> {
      const events: RealtimeEvent[] = [];
      for (let i = from; i < from + n; i++) events.push(await e.publish(t, draft(i), retention));
      return events;
    }

    /** A live feed of `t` whose events land in `got`, once it is ready. */
    async function listening(e: EventEngine, t: string) {
      const got: RealtimeEvent[] = [];
      const feed = e.subscribe(t, (ev) => got.push(ev));
      await feed.ready;
      return { got, feed };
    }

    function expectIncreasing(ids: readonly string[]) {
      for (let i = 1; i < ids.length; i++) expect(compareEventIds(ids[i - 1]!, ids[i]!), `${ids[i - 1]} before ${ids[i]}`).toBeLessThan(0);
    }

    async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
      const giveUpAt = Date.now() + 20_000;
      for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}; last: ${JSON.stringify(value)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    test('kind and health', async () => {
      const e = await engine();
      expect(['memory', 'redis']).toContain(e.kind);
      expect(e.health()).toMatchObject({ kind: e.kind, status: 'ok' });
    });

    describe('ids', () => {
      test('publish returns the event with a well-formed id and a Date timestamp', async () => {
        const e = await engine();
        const d = draft(7);
        const event = await e.publish(topic(), d, keep);
        expect(event).toMatchObject(d);
        expect(eventIdSchema.safeParse(event.id).success).toBe(true);
        expect(event.id).not.toBe(ORIGIN_EVENT_ID);
        expect(event.timestamp).toBeInstanceOf(Date);
      });

      test('increase within a topic, also for many publishes fired at once (same millisecond)', async () => {
        const e = await engine();
        const t = topic();
        const events = await Promise.all(Array.from({ length: 2000 }, (_, i) => e.publish(t, draft(i), keep)));
        const ids = events.map((ev) => ev.id);
        expect(new Set(ids).size).toBe(ids.length);
        // In call order: a publisher firing without awaiting still gets its order.
        expectIncreasing(ids);
        expect(events.map((ev) => ev.data)).toEqual(Array.from({ length: 2000 }, (_, i) => draft(i).data));
      });

      test('are independent across topics', async () => {
        const e = await engine();
        const a = topic('a');
        const b = topic('b');
        const published: Record<string, RealtimeEvent[]> = { [a]: [], [b]: [] };
        for (let i = 0; i < 50; i++) {
          const t = i % 3 === 0 ? b : a;
          published[t]!.push(await e.publish(t, draft(i), keep));
        }
        for (const t of [a, b]) {
          expectIncreasing(published[t]!.map((ev) => ev.id));
          const read = await e.readAfter(t, ORIGIN_EVENT_ID);
          expect(read.events).toEqual(published[t]);
          expect(read.found).toBe(true);
        }
        // Publishing to one topic never trims or moves another.
        await publishMany(e, a, 20, { maxEvents: 5, ttlMs: keep.ttlMs }, 100);
        const readB = await e.readAfter(b, ORIGIN_EVENT_ID);
        expect(readB.found).toBe(true);
        expect(readB.events).toEqual(published[b]);
        expect(readB.headId).toBe(published[b]!.at(-1)!.id);
      });
    });

    describe('readAfter', () => {
      test('a topic never written: 0-0 is found and empty, any other id is not found', async () => {
        const e = await engine();
        const t = topic();
        expect(await e.readAfter(t, ORIGIN_EVENT_ID)).toEqual(NOTHING_KEPT);
        expect(await e.readAfter(t, '1700000000000-0')).toMatchObject({
          found: false,
          events: [],
          headId: null,
          originId: null,
          trimmedThrough: null,
          epoch: null,
        });
      });

      test('0-0 returns everything, equal to what was published (Date included), found while nothing was trimmed', async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 5, { maxEvents: 5, ttlMs: keep.ttlMs });
        const read = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(read).toEqual({
          found: true,
          events,
          headId: events[4]!.id,
          originId: events[0]!.id,
          trimmedThrough: null,
          epoch: read.epoch,
        });
        expect(read.epoch).toEqual(expect.any(String));
        expect(read.events[0]!.timestamp).toBeInstanceOf(Date);

        // One more than maxEvents: the first is gone, so 0-0 no longer replays without a gap.
        const [sixth] = await publishMany(e, t, 1, { maxEvents: 5, ttlMs: keep.ttlMs }, 5);
        const after = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(after.found).toBe(false);
        expect(after.events).toEqual([...events.slice(1), sixth]);
        expect(after.trimmedThrough).toBe(events[0]!.id);
        expect(after.headId).toBe(sixth!.id);
      });

      test('an id returns the events after it, found', async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 10);
        const { epoch } = await e.readAfter(t, ORIGIN_EVENT_ID);
        for (const k of [0, 3, 8]) {
          expect(await e.readAfter(t, events[k]!.id)).toEqual({
            found: true,
            events: events.slice(k + 1),
            headId: events[9]!.id,
            originId: events[0]!.id,
            trimmedThrough: null,
            epoch,
          });
        }
      });

      test('the head id is found with nothing after it', async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 3);
        expect(await e.readAfter(t, events[2]!.id)).toMatchObject({ found: true, events: [], headId: events[2]!.id });
      });

      test('trimming by maxEvents: an id before the newest trimmed one is not found; trimmedThrough and headId say what is kept', async () => {
        const e = await engine();
        const t = topic();
        const retention = { maxEvents: 5, ttlMs: keep.ttlMs };
        const events = await publishMany(e, t, 20, retention);
        const kept = events.slice(15);

        for (const old of [events[0]!, events[13]!]) {
          const read = await e.readAfter(t, old.id);
          expect(read.found).toBe(false);
          // Not found: all that is kept, for a caller that replays what it can.
          expect(read.events).toEqual(kept);
          expect(read.trimmedThrough).toBe(events[14]!.id);
          expect(read.headId).toBe(events[19]!.id);
        }
        // The newest trimmed event itself: everything after it is kept, so no gap.
        expect(await e.readAfter(t, events[14]!.id)).toMatchObject({ found: true, events: kept });
        expect(await e.readAfter(t, events[15]!.id)).toMatchObject({ found: true, events: kept.slice(1) });
      });

      test("an id before the topic's first event or after its head (another life of the topic) is not found", async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 3);
        const [ms, seq] = events[2]!.id.split('-').map(Number) as [number, number];
        for (const never of ['1-0', `${ms}-${seq + 1}`, `${ms + 1}-0`, '999999999999999-0']) {
          expect((await e.readAfter(t, never)).found, never).toBe(false);
        }
        expect(await e.readAfter(t, events[0]!.id)).toMatchObject({ found: true, events: events.slice(1), originId: events[0]!.id });
      });

      test('a ttl trims expired events', async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 3, { maxEvents: 100, ttlMs: 1 });
        const { epoch } = await e.readAfter(t, events[0]!.id);
        const read = await eventually(
          () => e.readAfter(t, ORIGIN_EVENT_ID),
          (r) => r.events.length === 0,
          'the events to expire',
        );
        expect(read.found).toBe(false);
        expect((await e.readAfter(t, events[0]!.id)).found).toBe(false);

        // The topic goes on after its ids, never reusing one, and 0-0 still knows something was lost.
        const [next] = await publishMany(e, t, 1, keep, 3);
        expectIncreasing([events[2]!.id, next!.id]);
        expect(await e.readAfter(t, ORIGIN_EVENT_ID)).toEqual({
          found: false,
          events: [next],
          headId: next!.id,
          originId: events[0]!.id,
          trimmedThrough: events[2]!.id,
          epoch,
        });
        // The old head was trimmed last: resuming from it misses nothing.
        expect(await e.readAfter(t, events[2]!.id)).toEqual({
          found: true,
          events: [next],
          headId: next!.id,
          originId: events[0]!.id,
          trimmedThrough: events[2]!.id,
          epoch,
        });
      });

      test('the head id counts as found even when every event expired: nothing was missed', async () => {
        const e = await engine();
        const t = topic();
        const events = await publishMany(e, t, 3, { maxEvents: 100, ttlMs: 1 });
        const head = events[2]!.id;
        const { epoch } = await e.readAfter(t, head);
        await eventually(
          () => e.readAfter(t, ORIGIN_EVENT_ID),
          (r) => r.events.length === 0,
          'the events to expire',
        );
        const read = await e.readAfter(t, head);
        expect(read).toEqual({ found: true, events: [], headId: head, originId: events[0]!.id, trimmedThrough: head, epoch });
        expect((await e.readAfter(t, events[1]!.id)).found).toBe(false);
      });

      test('the retained events are exactly those after trimmedThrough (after 0-0 while nothing was trimmed): where a reader that lost its place resumes', async () => {
        const e = await engine();
        const t = topic();
        const retention = { maxEvents: 4, ttlMs: keep.ttlMs };
        const events = await publishMany(e, t, 3, retention);
        const untrimmed = await e.readAfter(t, '1-0');
        expect(untrimmed).toMatchObject({ found: false, events, trimmedThrough: null });
        expect(await e.readAfter(t, ORIGIN_EVENT_ID)).toMatchObject({ found: true, events });

        const more = await publishMany(e, t, 6, retention, 3);
        const trimmed = await e.readAfter(t, '1-0');
        expect(trimmed.found).toBe(false);
        expect(trimmed.events).toEqual(more.slice(2));
        // Resuming from that point reaches back with no gap and gives the same events.
        expect(await e.readAfter(t, trimmed.trimmedThrough!)).toMatchObject({ found: true, events: trimmed.events });
      });
    });

    describe('epoch', () => {
      test('is set when the history starts and kept while it lasts, through trimming by count and by age', async () => {
        const e = await engine();
        const t = topic();
        const [first] = await publishMany(e, t, 1);
        const { epoch } = await e.readAfter(t, first!.id);
        expect(epoch).toEqual(expect.any(String));
        expect(epoch).not.toBe('');

        await publishMany(e, t, 10, { maxEvents: 3, ttlMs: keep.ttlMs }, 1);
        expect((await e.readAfter(t, ORIGIN_EVENT_ID)).epoch).toBe(epoch);

        await publishMany(e, t, 2, { maxEvents: 100, ttlMs: 1 }, 11);
        const expired = await eventually(
          () => e.readAfter(t, ORIGIN_EVENT_ID),
          (r) => r.events.length === 0,
          'the events to expire',
        );
        // Trimmed, not lost: the same history goes on.
        expect(expired.epoch).toBe(epoch);
        await publishMany(e, t, 1, keep, 13);
        expect((await e.readAfter(t, ORIGIN_EVENT_ID)).epoch).toBe(epoch);
      });

      test('differs between topics, also between topics started at once', async () => {
        const e = await engine();
        const topics = Array.from({ length: 20 }, (_, i) => topic(String(i)));
        await Promise.all(topics.map((t) => e.publish(t, draft(0), keep)));
        const epochs = await Promise.all(topics.map(async (t) => (await e.readAfter(t, ORIGIN_EVENT_ID)).epoch));
        expect(new Set(epochs).size).toBe(topics.length);
      });
    });

    describe('publishClaimed (idempotency)', () => {
      const claim = (key: string, fingerprint = 'fp-1', ttlMs = 60_000) => ({ key, fingerprint, ttlMs });

      test('the same claim again returns the first id, stores nothing and delivers nothing', async () => {
        const e = await engine();
        const t = topic();
        const { got, feed } = await listening(e, t);
        const first = await e.publishClaimed(t, draft(1), keep, claim('k'));
        expect(first.status).toBe('published');
        const event = (first as { event: RealtimeEvent }).event;
        expect(await e.publishClaimed(t, draft(1), keep, claim('k'))).toEqual({ status: 'duplicate', id: event.id });
        // Fired at once: still one event.
        const again = await Promise.all(Array.from({ length: 20 }, () => e.publishClaimed(t, draft(1), keep, claim('k'))));
        expect(again).toEqual(Array.from({ length: 20 }, () => ({ status: 'duplicate', id: event.id })));
        const marker = await e.publish(t, draft(2), keep);
        await eventually(
          async () => got.length,
          (n) => n >= 2,
          'the marker, live',
        );
        expect(got).toEqual([event, marker]);
        expect((await e.readAfter(t, ORIGIN_EVENT_ID)).events).toEqual([event, marker]);
        feed.close();
      });

      test('another fingerprint under the same key is a conflict and stores nothing', async () => {
        const e = await engine();
        const t = topic();
        await e.publishClaimed(t, draft(1), keep, claim('k', 'fp-1'));
        expect(await e.publishClaimed(t, draft(2), keep, claim('k', 'fp-2'))).toEqual({ status: 'conflict' });
        expect((await e.readAfter(t, ORIGIN_EVENT_ID)).events).toHaveLength(1);
      });

      test('claims are per key and per topic', async () => {
        const e = await engine();
        const [a, b] = [topic('a'), topic('b')];
        const outcomes = [
          await e.publishClaimed(a, draft(1), keep, claim('k1')),
          await e.publishClaimed(a, draft(1), keep, claim('k2')),
          await e.publishClaimed(b, draft(1), keep, claim('k1')),
        ];
        expect(outcomes.map((o) => o.status)).toEqual(['published', 'published', 'published']);
        expect((await e.readAfter(a, ORIGIN_EVENT_ID)).events).toHaveLength(2);
        expect((await e.readAfter(b, ORIGIN_EVENT_ID)).events).toHaveLength(1);
      });

      test('a claim lapses after its ttl: the key is free again', async () => {
        const e = await engine();
        const t = topic();
        const first = await e.publishClaimed(t, draft(1), keep, claim('k', 'fp', 20));
        expect(first.status).toBe('published');
        const later = await eventually(
          () => e.publishClaimed(t, draft(1), keep, claim('k', 'fp', 60_000)),
          (o) => o.status === 'published',
          'the claim to lapse',
        );
        expect((later as { event: RealtimeEvent }).event.id).not.toBe((first as { event: RealtimeEvent }).event.id);
        expect((await e.readAfter(t, ORIGIN_EVENT_ID)).events).toHaveLength(2);
      });

      test('remember keeps the first value for its ttl; recall reads it', async () => {
        const e = await engine();
        const key = randomUUID();
        expect(await e.recall(key)).toBeNull();
        await e.remember(key, 'first', 60_000);
        await e.remember(key, 'second', 60_000);
        expect(await e.recall(key)).toBe('first');
        const short = randomUUID();
        await e.remember(short, 'gone soon', 20);
        await eventually(
          () => e.recall(short),
          (v) => v === null,
          'the record to lapse',
        );
      });
    });

    describe('publishLive (a live-only event)', () => {
      test('is numbered in the topic’s order and delivered live, in order with stored events, but never stored', async () => {
        const e = await engine();
        const t = topic();
        const { got, feed } = await listening(e, t);
        const first = await e.publish(t, draft(1), keep);
        const live = [await e.publishLive(t, draft(2), keep), await e.publishLive(t, draft(3), keep)];
        const last = await e.publish(t, draft(4), keep);
        expect(live[0]).toMatchObject(draft(2));
        expect(live[0]!.timestamp).toBeInstanceOf(Date);
        expectIncreasing([first.id, live[0]!.id, live[1]!.id, last.id]);
        await eventually(
          async () => got.length,
          (n) => n >= 4,
          '4 live events',
        );
        expect(got).toEqual([first, ...live, last]);
        feed.close();

        const all = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(all.events).toEqual([first, last]);
        expect(all.headId).toBe(last.id);
      });

      test('moves the head: resuming from its id is found and replays what was stored after it', async () => {
        const e = await engine();
        const t = topic();
        const stored = await e.publish(t, draft(1), keep);
        const live = await e.publishLive(t, draft(2), keep);
        expect(await e.head(t)).toBe(live.id);
        expect(await e.readAfter(t, live.id)).toMatchObject({ found: true, events: [], headId: live.id });
        const later = await e.publish(t, draft(3), keep);
        expect(await e.readAfter(t, live.id)).toMatchObject({ found: true, events: [later] });
        expect(await e.readAfter(t, stored.id)).toMatchObject({ found: true, events: [later] });
      });

      test('takes no room in the history: live events never trim a stored one', async () => {
        const e = await engine();
        const t = topic();
        const small: Retention = { maxEvents: 2, ttlMs: keep.ttlMs };
        const stored = await publishMany(e, t, 2, small);
        for (let i = 0; i < 5; i++) await e.publishLive(t, draft(10 + i), small);
        const read = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(read).toMatchObject({ found: true, events: stored, trimmedThrough: null });
      });

      test('on a topic never written: starts its history (origin, epoch) with nothing kept', async () => {
        const e = await engine();
        const t = topic();
        const live = await e.publishLive(t, draft(1), keep);
        const read = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(read).toMatchObject({ found: true, events: [], headId: live.id, originId: live.id, trimmedThrough: null });
        expect(read.epoch).not.toBeNull();
        const stored = await e.publish(t, draft(2), keep);
        expect(await e.readAfter(t, ORIGIN_EVENT_ID)).toMatchObject({ events: [stored], originId: live.id, epoch: read.epoch });
      });
    });

    describe('erase', () => {
      test('removes the history, its metadata and its claims; returns how many events it removed', async () => {
        const e = await engine();
        const t = topic();
        const other = topic('other');
        const kept = await publishMany(e, other, 2);
        const claimed = await e.publishClaimed(t, draft(0), keep, { key: 'k', fingerprint: 'fp', ttlMs: 60_000 });
        const events = [(claimed as { event: RealtimeEvent }).event, ...(await publishMany(e, t, 4, keep, 1))];
        const { epoch } = await e.readAfter(t, ORIGIN_EVENT_ID);

        expect(await e.erase(t)).toBe(5);
        expect(await e.readAfter(t, ORIGIN_EVENT_ID)).toEqual(NOTHING_KEPT);
        expect((await e.readAfter(t, events[2]!.id)).found).toBe(false);
        expect(await e.head(t)).toBeNull();
        // Other topics are untouched.
        expect((await e.readAfter(other, ORIGIN_EVENT_ID)).events).toEqual(kept);

        // The claim went with it, and the topic starts another history.
        const again = await e.publishClaimed(t, draft(0), keep, { key: 'k', fingerprint: 'fp', ttlMs: 60_000 });
        expect(again.status).toBe('published');
        const read = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(read.events).toEqual([(again as { event: RealtimeEvent }).event]);
        expect(read.epoch).not.toBe(epoch);
      });

      test('a topic never written: 0', async () => {
        const e = await engine();
        expect(await e.erase(topic())).toBe(0);
      });
    });

    describe('subscribe', () => {
      test('the source timestamp in data stays a Date: returned, replayed and live', async () => {
        const e = await engine();
        const t = topic();
        const seen = new Date('2026-11-28T10:00:00.123Z');
        const { got, feed } = await listening(e, t);
        const d: EventDraft = {
          type: 'investigation_update',
          data: { investigationId: 'contract', updateType: 'status', status: 'running', timestamp: seen },
        };
        const published = await e.publish(t, d, keep);
        const [replayed] = (await e.readAfter(t, ORIGIN_EVENT_ID)).events;
        await eventually(
          async () => got.length,
          (n) => n >= 1,
          'the live event',
        );
        for (const event of [published, replayed!, got[0]!]) {
          expect(event.data).toMatchObject({ timestamp: seen });
          expect((event.data as { timestamp?: unknown }).timestamp).toBeInstanceOf(Date);
        }
        feed.close();
      });

      test('delivers live events of its topic only, in publish order', async () => {
        const e = await engine();
        const t = topic();
        const other = topic('other');
        const { got, feed } = await listening(e, t);
        const before = await e.readAfter(t, ORIGIN_EVENT_ID);
        expect(before.events).toEqual([]);

        await e.publish(other, draft(999), keep);
        const published = await Promise.all(Array.from({ length: 200 }, (_, i) => e.publish(t, draft(i), keep)));
        await eventually(
          async () => got.length,
          (n) => n >= 200,
          '200 live events',
        );
        expect(got).toEqual(published);
        feed.close();
      });

      test('unsubscribe stops delivery to that listener only and leaves the stats as they were', async () => {
        const e = await engine();
        const t = topic();
        // The topic exists beforehand, so only the subscriptions differ.
        await e.publish(t, draft(0), keep);
        const baseline = e.stats();

        const stopped: RealtimeEvent[] = [];
        const kept: RealtimeEvent[] = [];
        const first = e.subscribe(t, (ev) => stopped.push(ev));
        const second = e.subscribe(t, (ev) => kept.push(ev));
        await Promise.all([first.ready, second.ready]);
        const one = await e.publish(t, draft(1), keep);
        await eventually(
          async () => stopped.length + kept.length,
          (n) => n === 2,
          'both listeners',
        );

        first.close();
        first.close(); // idempotent
        const two = await e.publish(t, draft(2), keep);
        // The listener still subscribed is the barrier: once it has the event, the stopped one would have too.
        await eventually(
          async () => kept.length,
          (n) => n === 2,
          'the remaining listener',
        );
        expect(kept).toEqual([one, two]);
        expect(stopped).toEqual([one]);

        second.close();
        expect(e.stats()).toEqual(baseline);
      });

      test('subscribing to a topic never written and leaving again leaves no trace in stats', async () => {
        const e = await engine();
        const baseline = e.stats();
        const feeds = Array.from({ length: 10 }, (_, i) => e.subscribe(topic(String(i)), () => undefined));
        await Promise.all(feeds.map((feed) => feed.ready));
        for (const feed of feeds) feed.close();
        expect(e.stats()).toEqual(baseline);
      });

      test('head is the newest id of a topic, null for one never written', async () => {
        const e = await engine();
        const t = topic();
        expect(await e.head(t)).toBeNull();
        const events = await publishMany(e, t, 3, { maxEvents: 2, ttlMs: keep.ttlMs });
        expect(await e.head(t)).toBe(events[2]!.id);
      });
    });
  });
}
