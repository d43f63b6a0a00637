import { LRUCache } from 'lru-cache';
import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventId';
import type { EventDraft, RealtimeEvent } from '../../shared/events';
import type { ClaimedPublish, EventEngine, EventListener, HistoryRead, IdempotencyClaim, LiveFeed, Retention } from './engine';
import { historyReaches, newEpoch } from './history';

interface TopicLog {
  events: RealtimeEvent[];
  lastMs: number;
  lastSeq: number;
  /** The first id this topic issued. */
  originId: string;
  /** The newest trimmed id: resuming from before it would leave a gap. */
  trimmedThrough: string | null;
  ttlMs: number;
  /** This life of the topic: a topic forgotten and written again starts another. */
  epoch: string;
}

export interface MemoryEngineOptions {
  /** How often expired events and empty topics are swept. */
  sweepIntervalMs?: number;
  now?: () => number;
  /** Idempotency records kept at most (the least recently used go first); each also lapses after its ttl. */
  maxIdempotencyRecords?: number;
}

interface ClaimRecord {
  fingerprint: string;
  id: string;
}

/**
 * The in-process engine: one node, everything in memory, bounded by each
 * topic's retention. Publishing is synchronous underneath, so a subscriber that
 * attaches and then reads history in the same tick can neither miss nor repeat
 * an event.
 */
export function createMemoryEngine(opts: MemoryEngineOptions = {}): EventEngine {
  const now = opts.now ?? Date.now;
  const logs = new Map<string, TopicLog>();
  const listeners = new Map<string, Set<EventListener>>();
  const maxRecords = opts.maxIdempotencyRecords ?? 100_000;
  const perf = { now };
  /** Claims by `<topic> <key>`: bounded, each lapsing after its own ttl. */
  const claims = new LRUCache<string, ClaimRecord>({ max: maxRecords, perf });
  const remembered = new LRUCache<string, string>({ max: maxRecords, perf });
  const claimKey = (topic: string, key: string) => `${topic} ${key}`;

  function trimExpired(log: TopicLog, at: number) {
    const oldest = at - log.ttlMs;
    let drop = 0;
    while (drop < log.events.length && log.events[drop]!.timestamp.getTime() < oldest) drop++;
    if (drop > 0) trimFront(log, drop);
  }

  function trimFront(log: TopicLog, count: number) {
    log.trimmedThrough = log.events[count - 1]!.id;
    log.events.splice(0, count);
  }

  function sweep() {
    const at = now();
    for (const [topic, log] of logs) {
      trimExpired(log, at);
      // A topic with no retained events and no listeners is forgotten; an id a
      // client still holds for it then reads as unknown, which means resync.
      if (log.events.length === 0 && !listeners.has(topic) && at - log.lastMs > log.ttlMs) logs.delete(topic);
    }
  }
  const sweeper = setInterval(sweep, opts.sweepIntervalMs ?? 60_000);
  sweeper.unref();

  /** Numbers the event, keeps it unless `live` (a live-only event: see EventEngine.publishLive), and hands it to the listeners. */
  function publish(topic: string, draft: EventDraft, retention: Retention, live = false): RealtimeEvent {
    let log = logs.get(topic);
    if (!log) {
      log = { events: [], lastMs: 0, lastSeq: 0, originId: '', trimmedThrough: null, ttlMs: retention.ttlMs, epoch: newEpoch() };
      logs.set(topic, log);
    }
    log.ttlMs = retention.ttlMs;
    const at = now();
    // Redis Stream id rules: a clock that stands still or goes back keeps the
    // last millisecond and bumps the sequence, so ids always increase.
    if (at > log.lastMs) {
      log.lastMs = at;
      log.lastSeq = 0;
    } else {
      log.lastSeq += 1;
    }
    const id = `${log.lastMs}-${log.lastSeq}`;
    if (log.originId === '') log.originId = id;
    // Built field by field (not spread): every event has the one shape, in the contract's key order.
    const event = { type: draft.type, data: draft.data, id, timestamp: new Date(at) } as RealtimeEvent;
    if (!live) {
      log.events.push(event);
      if (log.events.length > retention.maxEvents) trimFront(log, log.events.length - retention.maxEvents);
    }
    const set = listeners.get(topic);
    if (set) for (const listener of set) listener(event);
    return event;
  }

  return {
    kind: 'memory',

    async publish(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent> {
      return publish(topic, draft, retention);
    },

    async publishClaimed(topic: string, draft: EventDraft, retention: Retention, claim: IdempotencyClaim): Promise<ClaimedPublish> {
      // Synchronous from the check to the record: nothing can come in between.
      const name = claimKey(topic, claim.key);
      const seen = claims.get(name);
      if (seen) return seen.fingerprint === claim.fingerprint ? { status: 'duplicate', id: seen.id } : { status: 'conflict' };
      const event = publish(topic, draft, retention);
      claims.set(name, { fingerprint: claim.fingerprint, id: event.id }, { ttl: claim.ttlMs });
      return { status: 'published', event };
    },

    async publishLive(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent> {
      return publish(topic, draft, retention, true);
    },

    async remember(key: string, value: string, ttlMs: number) {
      if (!remembered.has(key)) remembered.set(key, value, { ttl: ttlMs });
    },

    async recall(key: string) {
      return remembered.get(key) ?? null;
    },

    async erase(topic: string): Promise<number> {
      const log = logs.get(topic);
      if (log) trimExpired(log, now());
      logs.delete(topic);
      const prefix = claimKey(topic, '');
      for (const name of [...claims.keys()]) if (name.startsWith(prefix)) claims.delete(name);
      return log?.events.length ?? 0;
    },

    async readAfter(topic: string, afterId: string): Promise<HistoryRead> {
      const log = logs.get(topic);
      if (!log) return { found: afterId === ORIGIN_EVENT_ID, events: [], headId: null, originId: null, trimmedThrough: null, epoch: null };
      trimExpired(log, now());
      const { events, trimmedThrough, originId, epoch } = log;
      const headId = `${log.lastMs}-${log.lastSeq}`;
      const found = historyReaches(afterId, { headId, originId, trimmedThrough });
      const read = { found, headId, originId, trimmedThrough, epoch };
      if (!found) return { ...read, events: events.slice() };
      // Binary search for the first event after `afterId`: ids are increasing.
      let lo = 0;
      let hi = events.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareEventIds(events[mid]!.id, afterId) <= 0) lo = mid + 1;
        else hi = mid;
      }
      return { ...read, events: events.slice(lo) };
    },

    subscribe(topic: string, listener: EventListener): LiveFeed {
      let set = listeners.get(topic);
      if (!set) {
        set = new Set();
        listeners.set(topic, set);
      }
      set.add(listener);
      return {
        ready: Promise.resolve(),
        close: () => {
          const current = listeners.get(topic);
          if (!current) return;
          current.delete(listener);
          if (current.size === 0) listeners.delete(topic);
        },
      };
    },

    async head(topic: string): Promise<string | null> {
      const log = logs.get(topic);
      return log ? `${log.lastMs}-${log.lastSeq}` : null;
    },

    onReconnect() {
      // One process: the live feed is never interrupted.
      return () => undefined;
    },

    health() {
      return { kind: 'memory', status: 'ok' };
    },

    stats() {
      return { topics: logs.size, listenerTopics: listeners.size };
    },

    async close() {
      clearInterval(sweeper);
      listeners.clear();
    },
  };
}
