import { z } from 'zod';
import { EVENT_ID_PATTERN } from './eventIdOrder';

/**
 * Event ids have the shape of Redis Stream ids, `<milliseconds>-<sequence>`, in
 * every engine, so a client never has to know which engine produced them. They
 * increase within a topic; `0-0` means "before the first event".
 */
export const eventIdSchema = z.string().regex(EVENT_ID_PATTERN, 'must be an event id received from this API (`<ms>-<seq>`)');

export type EventId = z.infer<typeof eventIdSchema>;

// The pattern and the ordering live apart so zod-free code (the browser client) can import them alone.
export { compareEventIds, ORIGIN_EVENT_ID, parseEventId } from './eventIdOrder';
