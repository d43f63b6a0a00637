import { describe, expect, test } from 'vitest';
import { createMemoryEngine } from '../server/bus/memoryEngine';
import { compareEventIds } from '../shared/eventId';
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
