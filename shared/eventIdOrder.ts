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

/** Negative when `a` comes before `b`, zero when equal, positive after. */
export function compareEventIds(a: string, b: string): number {
  const [aMs, aSeq] = parseEventId(a);
  const [bMs, bSeq] = parseEventId(b);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}
