import { describe, expect, test, vi } from 'vitest';
import { EventBus } from '../server/bus/eventBus';
import { createMemoryEngine } from '../server/bus/memoryEngine';
import { compareEventIds, ORIGIN_EVENT_ID } from '../shared/eventId';
import type { EventDraft } from '../shared/events';
import { describeEngineContract } from './engine.contract';

describeEngineContract('memory', async () => createMemoryEngine());

describe('memory engine clock', () => {
  const draft: EventDraft = { type: 'typing', data: { sessionId: 's', userId: 'u', isTyping: true } };
  const retention = { maxEvents: 100, ttlMs: 3_600_000 };

  test('ids keep increasing when the clock stands still or goes back', async () => {
    const times = [1_000, 1_000, 1_000, 900, 500, 1_000, 1_001, 1_001];
    let i = 0;
    const engine = createMemoryEngine({ now: () => times[Math.min(i, times.length - 1)]! });
    try {
      const ids: string[] = [];
      for (; i < times.length; i++) ids.push((await engine.publish('chat:s', draft, retention)).id);
      expect(ids).toEqual(['1000-0', '1000-1', '1000-2', '1000-3', '1000-4', '1000-5', '1001-0', '1001-1']);
      for (let k = 1; k < ids.length; k++) expect(compareEventIds(ids[k - 1]!, ids[k]!)).toBeLessThan(0);
      const read = await engine.readAfter('chat:s', '1000-2');
      expect(read.found).toBe(true);
      expect(read.events.map((e) => e.id)).toEqual(ids.slice(3));
    } finally {
      await engine.close();
    }
  });
});

describe('memory engine: a forgotten topic', () => {
  const draft: EventDraft = { type: 'typing', data: { sessionId: 's', userId: 'u', isTyping: true } };

  test('written again starts another history: a new epoch, and an id of the old one is not found', async () => {
    let now = 1_000;
    const engine = createMemoryEngine({ now: () => now, sweepIntervalMs: 5 });
    try {
      const retention = { maxEvents: 100, ttlMs: 100 };
      const old = await engine.publish('chat:s', draft, retention);
      const before = await engine.readAfter('chat:s', ORIGIN_EVENT_ID);
      // Past its ttl with no listener: the sweeper forgets it.
      now += 1_000;
      await vi.waitFor(() => expect(engine.stats().topics).toBe(0));

      now += 1;
      const next = await engine.publish('chat:s', draft, retention);
      const after = await engine.readAfter('chat:s', old.id);
      expect(after).toEqual({
        found: false,
        events: [next],
        headId: next.id,
        originId: next.id,
        trimmedThrough: null,
        epoch: expect.any(String),
      });
      expect(after.epoch).not.toBe(before.epoch);
    } finally {
      await engine.close();
    }
  });
});

describe('the bus over the memory engine: erase and claims', () => {
  const draft: EventDraft = { type: 'typing', data: { sessionId: 's', userId: 'u', isTyping: true } };
  const retention = { maxEvents: 100, ttlMs: 3_600_000 };

  test('erase removes what the topic kept and says how much; a duplicate claim is not counted as published', async () => {
    const engine = createMemoryEngine();
    const published: string[] = [];
    const bus = new EventBus({
      engine,
      batchWindowMs: 0,
      retentionOf: () => retention,
      maxQueuedEvents: 100,
      onPublished: (event) => published.push(event.id),
    });
    try {
      const claim = { key: 'k', fingerprint: 'fp', ttlMs: 60_000 };
      const first = await bus.publishClaimed('chat:s', draft, claim);
      expect(await bus.publishClaimed('chat:s', draft, claim)).toEqual({ id: first.id, duplicate: true });
      await expect(bus.publishClaimed('chat:s', draft, { ...claim, fingerprint: 'other' })).rejects.toMatchObject({
        code: 'CONFLICT',
        reason: 'idempotency_conflict',
      });
      await bus.publish('chat:s', draft);
      expect(published).toHaveLength(2);
      expect(await bus.erase('chat:s')).toBe(2);
      expect((await bus.history('chat:s', ORIGIN_EVENT_ID)).events).toEqual([]);
      expect(await bus.erase('chat:s')).toBe(0);
    } finally {
      bus.close();
      await engine.close();
    }
  });

  test('the idempotency records are bounded: the least recently used go first', async () => {
    const engine = createMemoryEngine({ maxIdempotencyRecords: 2 });
    try {
      const claim = (key: string) => ({ key, fingerprint: 'fp', ttlMs: 60_000 });
      for (const key of ['a', 'b', 'c']) await engine.publishClaimed('chat:s', draft, retention, claim(key));
      expect((await engine.publishClaimed('chat:s', draft, retention, claim('c'))).status).toBe('duplicate');
      expect((await engine.publishClaimed('chat:s', draft, retention, claim('a'))).status).toBe('published');
    } finally {
      await engine.close();
    }
  });
});
