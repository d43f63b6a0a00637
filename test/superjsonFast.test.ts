import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import { stringifySuperjson, stringifyTrackedEvent } from '../server/transport/superjsonFast';
import type { RealtimeEvent } from '../shared/events';

/** What tRPC's adapter writes for a tracked event: superjson's serialization, as JSON text. */
const reference = (value: unknown) => JSON.stringify(superjson.serialize(value));

const datas: [string, unknown][] = [
  ['an update with a source timestamp', { investigationId: 'i', updateType: 'progress', data: { progress: 4 }, timestamp: new Date(5) }],
  ['nested arrays and objects, Dates inside them', { result: [1, [2, { at: new Date(7) }], { deep: { er: [new Date(8)] } }] }],
  ['text that JSON escapes', { text: 'aspas " \\ barra\n\u2028 ção 😀' }],
  ['null, booleans, large and small numbers', { a: null, b: true, c: false, d: 1e21, e: 5e-7, f: -3 }],
  ['an empty object and array', { o: {}, a: [] }],
  ['keys that superjson escapes in its paths', { 'a.b': new Date(1), 'c\\d': 1 }],
  ['undefined values', { gone: undefined, list: [undefined] }],
  ['numbers JSON cannot carry', { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, negZero: -0 }],
  ['a Map, a Set, a BigInt', { m: new Map([[1, 2]]), s: new Set([1]), b: 10n }],
  ['an object with its own toJSON', { odd: { toJSON: () => 'other' } }],
  ['a chat token', { sessionId: 's-1', messageId: 'm-1', delta: 'olá ', done: false }],
];

/** An event as the memory engine builds it: the draft's type and data, then id and timestamp. */
const engineEvent = (data: unknown, timestamp = new Date(1_700_000_000_000)) =>
  ({ type: 'investigation_update', data, id: '1700000000000-3', timestamp }) as unknown as RealtimeEvent;

describe('a tracked event', () => {
  test.each(datas)('%s: the same bytes as superjson', (_, data) => {
    const event = engineEvent(data);
    expect(stringifyTrackedEvent(event)).toBe(reference({ id: event.id, data: event }));
  });

  test('an event whose keys come in another order (id first): the same value after superjson, keys in the contract’s order', () => {
    const data = { at: new Date(9), list: [1, 'two'] };
    const event = {
      id: '1700000000000-4',
      type: 'investigation_update',
      data,
      timestamp: new Date(1_700_000_000_000),
    } as unknown as RealtimeEvent;
    const text = stringifyTrackedEvent(event);
    expect(superjson.deserialize(JSON.parse(text))).toEqual({ id: event.id, data: event });
    expect(Object.keys((JSON.parse(text) as { json: { data: object } }).json.data)).toEqual(['type', 'data', 'id', 'timestamp']);
  });

  test('timestamps of successive milliseconds, and again an earlier one: each its own ISO text', () => {
    const times = [
      1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_099, 1_700_000_000_999, 1_700_000_001_000, 1_700_000_000_500,
    ];
    // Before 1970, and a year past 9999 (an extended year: `+010000-…`).
    times.push(5, -1, -999, -1_000, -1_001, 253_402_300_800_123, 253_402_300_800_124, 1_700_000_000_000);
    for (const ms of times) {
      const event = engineEvent({ n: 1 }, new Date(ms));
      expect(stringifyTrackedEvent(event)).toBe(reference({ id: event.id, data: event }));
    }
  });

  test('a long run of timestamps, near and far apart: each the ISO text superjson writes', () => {
    // A fixed sequence (a linear congruential generator): steps of a few ms, and jumps across seconds, days and 1970.
    let seed = 7;
    let ms = 1_700_000_000_000;
    for (let i = 0; i < 3_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      ms = seed % 10 === 0 ? (seed % 2 === 0 ? -1 : 1) * seed * 997 : ms + (seed % 1_500);
      const event = engineEvent({ n: i }, new Date(ms));
      expect(stringifyTrackedEvent(event)).toBe(reference({ id: event.id, data: event }));
    }
  });

  test('an invalid timestamp: what superjson writes', () => {
    const event = engineEvent({ n: 1 }, new Date(Number.NaN));
    expect(stringifyTrackedEvent(event)).toBe(reference({ id: event.id, data: event }));
  });
});

const event = (data: Record<string, unknown>) => ({
  id: '1700000000000-3',
  data: { id: '1700000000000-3', type: 'investigation_update', data, timestamp: new Date(1_700_000_000_000) },
});

test.each([
  [
    'an update with a source timestamp',
    event({ investigationId: 'i', updateType: 'progress', data: { progress: 4 }, timestamp: new Date(5) }),
  ],
  ['nested arrays and objects, Dates inside them', event({ result: [1, [2, { at: new Date(7) }], { deep: { er: [new Date(8)] } }] })],
  ['text that JSON escapes', event({ text: 'aspas " \\ barra\n\u2028 ção 😀' })],
  ['null, booleans, large and small numbers', event({ a: null, b: true, c: false, d: 1e21, e: 5e-7, f: -3 })],
  ['an empty object and array', event({ o: {}, a: [] })],
  ['keys that superjson escapes in its paths', event({ 'a.b': new Date(1), 'c\\d': 1 })],
  ['undefined values', event({ gone: undefined, list: [undefined] })],
  ['numbers JSON cannot carry', event({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, negZero: -0 })],
  [
    'a Map, a Set, a BigInt, a RegExp, a class instance',
    event({ m: new Map([[1, 2]]), s: new Set([1]), b: 10n, r: /x/g, u: new URL('https://x') }),
  ],
  ['an invalid Date', event({ when: new Date(Number.NaN) })],
  // An array with a hole, made on purpose.
  ['a sparse array', event({ holes: Object.assign(new Array(3), { 0: 1, 2: 3 }) })],
  ['an object with its own toJSON', event({ odd: { toJSON: () => 'other' } })],
  ['no Date at all', { id: '1-0', data: { plain: [1, 'two'] } }],
  ['a top-level Date', new Date(3)],
])('%s: the same bytes as superjson', (_, value) => {
  expect(stringifySuperjson(value)).toBe(reference(value));
});
