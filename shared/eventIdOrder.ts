/**
 * Event ids and their order, without zod, so the browser bundle can use them
 * without pulling in the schema library. Ids have the shape of Redis Stream
 * ids, `<milliseconds>-<sequence>`, and increase within a topic.
 */
export const ORIGIN_EVENT_ID = '0-0';

/** The shape of an event id: the one definition, used by the schema (eventId.ts) and the SDK's resume store. */
export const EVENT_ID_PATTERN = /^\d{1,15}-\d{1,15}$/;

/** Whether `value` has the shape of an event id (a stored value may not: the server would refuse it). */
export function isEventId(value: string): boolean {
  return EVENT_ID_PATTERN.test(value);
}

/** Splits an id into its two numbers; callers pass ids that matched `EVENT_ID_PATTERN`. */
export function parseEventId(id: string): [ms: number, seq: number] {
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/**
 * Negative when `a` comes before `b`, zero when equal, positive after. Read
 * digit by digit, allocating nothing: the fan-out compares every event it
 * passes on.
 */
export function compareEventIds(a: string, b: string): number {
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const ms = digitsOf(a, 0, aDash) - digitsOf(b, 0, bDash);
  return ms !== 0 ? ms : digitsOf(a, aDash + 1, a.length) - digitsOf(b, bDash + 1, b.length);
}

/** The number the decimal digits `text[from, to)` spell (at most 15 of them: exact in a double). */
function digitsOf(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 10 + (text.charCodeAt(i) - 48);
  return value;
}
