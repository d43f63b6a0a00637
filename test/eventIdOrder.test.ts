import { expect, test } from 'vitest';
import { compareEventIds, parseEventId } from '../shared/eventId';

test('ids order by their milliseconds, then their sequence, as numbers (not as text)', () => {
  const ordered = ['0-0', '0-1', '9-5', '10-0', '10-2', '10-10', '100-0', '999999999999999-999999999999999'];
  const shuffled = [...ordered].reverse();
  shuffled.push(shuffled.shift()!);
  expect(shuffled.sort(compareEventIds)).toEqual(ordered);
  for (const id of ordered) expect(compareEventIds(id, id)).toBe(0);
  // Leading zeros (a client's lastEventId may have them) read as the same number.
  expect(compareEventIds('0010-02', '10-2')).toBe(0);
  expect(Math.sign(compareEventIds('1700000000000-3', '1700000000001-0'))).toBe(-1);
  expect(parseEventId('1700000000000-3')).toEqual([1_700_000_000_000, 3]);
});
