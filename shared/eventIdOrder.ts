/**
 * The ordering of event ids, without zod, so the browser bundle can use it
 * without pulling in the schema library. Ids have the shape of Redis Stream ids,
 * `<milliseconds>-<sequence>`, and increase within a topic.
 */
export const ORIGIN_EVENT_ID = '0-0';

/** Splits an id into its two numbers; callers pass ids that matched `eventIdSchema`. */
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
