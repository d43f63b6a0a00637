import { compareEventIds } from './eventIdOrder';

/**
 * The rules every fold of a topic's events into state follows (the
 * investigation's here in shared/, the client's others in client/sdk/):
 * a pure reducer that skips an id it has already applied, and lists bounded
 * to the newest entries so a long-running page or a long history stays small.
 * Zod-free: the browser bundle imports it.
 */
export const MAX_ITEMS = 200;

/** `list` with `item` appended, keeping the newest `MAX_ITEMS`. */
export function keepNewest<T>(list: readonly T[], item: T): T[] {
  const next = [...list, item];
  return next.length > MAX_ITEMS ? next.slice(next.length - MAX_ITEMS) : next;
}

/**
 * Whether an event still has to be applied: ids increase within a topic, so a
 * replay that overlaps what was seen changes nothing. A `resync_required`
 * always is: it carries the topic's head id, which may be older than the id
 * the client asked from (an id of another life of the server), and
 * everything after it must apply.
 */
export function isNewEvent(lastEventId: string | null, event: { id: string; type: string }): boolean {
  return event.type === 'resync_required' || lastEventId === null || compareEventIds(event.id, lastEventId) > 0;
}

/** Set when the server answered `resync_required`: what is shown may miss events. */
export interface ResyncInfo {
  reason: 'history_trimmed' | 'unknown_event_id';
  lastEventId: string;
}
