import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventId';

/**
 * Whether the history of a topic reaches back to `afterId` with no gap: the id
 * lies between the topic's first id (or its newest trimmed id, if later) and
 * its head. `0-0` is found while nothing was trimmed. Both engines decide with
 * this rule; the Redis engine's Lua script states the same rule.
 */
export function historyReaches(
  afterId: string,
  topic: { headId: string | null; originId: string | null; trimmedThrough: string | null },
): boolean {
  if (afterId === ORIGIN_EVENT_ID) return topic.trimmedThrough === null;
  if (topic.headId === null || topic.originId === null) return false;
  const floor = topic.trimmedThrough ?? topic.originId;
  return compareEventIds(afterId, floor) >= 0 && compareEventIds(afterId, topic.headId) <= 0;
}
