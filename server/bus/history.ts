import { randomBytes } from 'node:crypto';
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

/** Random per process: epochs from two nodes, or from before a restart, never meet. */
const processEpoch = randomBytes(6).toString('base64url');
let epochCount = 0;

/**
 * An epoch for a history that starts (see `HistoryRead.epoch`): unique across
 * processes and within one, with no random draw per call (the Redis engine
 * offers one with every publish; only the publish that starts a history keeps it).
 */
export function newEpoch(): string {
  epochCount += 1;
  return `${processEpoch}.${epochCount.toString(36)}`;
}
