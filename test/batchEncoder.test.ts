import { expect, test } from 'vitest';
import { batchEncoder } from '../server/transport/wireFormat';
import type { RealtimeEvent } from '../shared/events';

function event(seq: number): RealtimeEvent {
  return {
    type: 'investigation_update',
    data: { investigationId: 'inv-1', updateType: 'progress', progress: seq },
    id: `1700000000000-${seq}`,
    timestamp: new Date(1_700_000_000_000),
  };
}

/** An encoder that counts its encodings, and what it wrote for each event (its id). */
function counted() {
  const encoded: string[] = [];
  const tails = batchEncoder((e) => {
    encoded.push(e.id);
    return Buffer.from(e.id);
  });
  const text = (buffers: readonly Buffer[]) => buffers.map(String);
  return { encoded, tails, text };
}

test('a live batch is encoded once for all the subscribers it is handed to in turn', () => {
  const { encoded, tails, text } = counted();
  const batch = [event(1), event(2), event(3)];
  for (let subscriber = 0; subscriber < 1_000; subscriber++) expect(text(tails(batch, true))).toEqual(batch.map((e) => e.id));
  expect(encoded).toEqual(batch.map((e) => e.id));
});

test('the next live batch is encoded for itself, even when it holds the same number of events', () => {
  const { encoded, tails, text } = counted();
  const first = [event(1), event(2)];
  const second = [event(3), event(4)];
  expect(text(tails(first, true))).toEqual(['1700000000000-1', '1700000000000-2']);
  expect(text(tails(second, true))).toEqual(['1700000000000-3', '1700000000000-4']);
  // Another topic's batch in between (a large fan-out goes in slices): the first is encoded again, not mixed up.
  expect(text(tails(first, true))).toEqual(['1700000000000-1', '1700000000000-2']);
  expect(encoded).toHaveLength(6);
});

test('replayed events are encoded once per event object, whichever clients resume through them', () => {
  const { encoded, tails, text } = counted();
  const history = [event(1), event(2), event(3)];
  // Each resuming client is handed the history one event at a time, in arrays of its own.
  for (let client = 0; client < 50; client++) {
    for (const e of history) expect(text(tails([e], false))).toEqual([e.id]);
  }
  expect(encoded).toEqual(history.map((e) => e.id));
  // An equal event that is another object (the Redis engine reads new ones) is encoded for itself.
  expect(text(tails([event(1)], false))).toEqual(['1700000000000-1']);
  expect(encoded).toHaveLength(4);
});
