import { z } from 'zod';

/**
 * Event ids have the shape of Redis Stream ids, `<milliseconds>-<sequence>`, in
 * every engine, so a client never has to know which engine produced them. They
 * increase within a topic; `0-0` means "before the first event".
 */
export const eventIdSchema = z
  .string()
  .regex(/^\d{1,15}-\d{1,15}$/, 'must be an event id received from this API (`<ms>-<seq>`)');

export type EventId = z.infer<typeof eventIdSchema>;

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
