import type { EventDraft, RealtimeEvent } from '../../shared/events';

/** How long a topic keeps its events: the first bound reached trims. */
export interface Retention {
  maxEvents: number;
  ttlMs: number;
}

/**
 * The retained history after an id. `found` says whether the history reaches
 * back to `afterId` without a gap: true when `afterId` lies between the first
 * id of the topic (or the newest trimmed one, if later) and the head; `0-0`
 * while nothing was trimmed. An id from before the topic's first event is
 * from another life of it (a restart, an expired history) and is not found.
 * When `found` is false, `events` is all that is retained and the caller
 * decides (resync, or replay what is kept).
 */
export interface HistoryRead {
  found: boolean;
  events: RealtimeEvent[];
  /** The newest id of the topic, retained or not; null for a topic never written (or forgotten). */
  headId: string | null;
  /** The first id this topic issued, retained or not; null for a topic never written (or forgotten). */
  originId: string | null;
  /**
   * The newest id that was trimmed (by count or age); null while nothing was.
   * The retained events are exactly those after it (after `0-0` when null):
   * the point a reader that lost its place resumes from.
   */
  trimmedThrough: string | null;
  /**
   * Which life of the topic's history this is: set when the history starts
   * and kept while it lasts, trimming included; a history that was lost and
   * started again (a Redis restarted empty, a topic forgotten after its ttl)
   * has another. A reader that kept the epoch of an earlier read knows, when
   * it differs, that nothing it read before is in this history, whatever its
   * ids say. Null for a topic never written (or forgotten).
   */
  epoch: string | null;
}

export interface EngineHealth {
  kind: 'memory' | 'redis';
  status: 'ok' | 'degraded';
  /**
   * Why it is degraded: `redis_unreachable` (a connection is down, Redis is
   * being reconnected to) or `redis_unresponsive` (connected, but Redis
   * answered no ping within `REDIS_TIMEOUT_MS`: hung).
   */
  reason?: string;
}

export type EventListener = (event: RealtimeEvent) => void;

/**
 * A publish that must happen once per key (a publisher's `idempotencyKey`):
 * the engine checks and records it in the same atomic step as the store, so a
 * retry after a lost reply finds the record and stores nothing new.
 */
export interface IdempotencyClaim {
  /** Names the publish within its topic: a hash of the publisher, the procedure and the key. */
  key: string;
  /** A hash of the canonical payload: the same key with another payload is a conflict. */
  fingerprint: string;
  /** How long the record is kept (`IDEMPOTENCY_TTL_SECONDS`). */
  ttlMs: number;
}

/** What a claimed publish did: stored (and fanned out), found already stored (nothing fanned out), or refused. */
export type ClaimedPublish = { status: 'published'; event: RealtimeEvent } | { status: 'duplicate'; id: string } | { status: 'conflict' };

export interface LiveFeed {
  ready: Promise<void>;
  close(): void;
}

/**
 * Where events are numbered, kept and fanned out between nodes. The bus sits on
 * top and does batching and per-subscriber delivery; an engine only knows
 * topics. Two implementations: memory (one process) and redis (several nodes).
 */
export interface EventEngine {
  readonly kind: EngineHealth['kind'];
  /**
   * Assigns the id (increasing within the topic), stores, and fans out to every
   * node. Fails, never waits long: at once while the engine is known to be
   * unable to answer, and within the engine's timeout otherwise.
   */
  publish(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent>;
  /**
   * `publish` under an idempotency claim, atomically: when the topic holds a
   * live record of `claim.key`, nothing is stored or fanned out and the
   * recorded id comes back (`duplicate`), or `conflict` when its fingerprint
   * differs; otherwise the event is published and the record kept for
   * `claim.ttlMs`.
   */
  publishClaimed(topic: string, draft: EventDraft, retention: Retention, claim: IdempotencyClaim): Promise<ClaimedPublish>;
  /**
   * Numbers the event as `publish` does (its id increases within the topic
   * and becomes the head) and fans it out to every node's live subscribers,
   * without storing it: no history read returns it, and a resume from its id
   * replays what was stored after it. For what only matters while it is live:
   * a chat reply's tokens, whose whole text is stored as the reply's
   * `chat_message`. Replicas are not waited for (nothing is kept to lose).
   */
  publishLive(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent>;
  /**
   * A small record under `key` for `ttlMs`, kept only if none is there (the
   * result of a whole idempotent call, across topics); `recall` reads it.
   */
  remember(key: string, value: string, ttlMs: number): Promise<void>;
  recall(key: string): Promise<string | null>;
  /**
   * Removes a topic's history, its metadata and its idempotency records;
   * returns how many retained events were removed. A later publish starts a
   * new history (another epoch). Live feeds are left alone.
   */
  erase(topic: string): Promise<number>;
  /**
   * The retained events after `afterId` (`0-0`: all of them). Like `publish`,
   * fails at once while the engine cannot answer (Redis away or hung).
   */
  readAfter(topic: string, afterId: string): Promise<HistoryRead>;
  /**
   * Live events of a topic, from any node, in id order. `ready` resolves once
   * every event published from then on will reach the listener (for Redis: the
   * SUBSCRIBE is confirmed), so a history read after it leaves no gap.
   */
  subscribe(topic: string, listener: EventListener): LiveFeed;
  /** The newest id of a topic, or null. */
  head(topic: string): Promise<string | null>;
  /**
   * Runs `listener` each time the live feed was interrupted and is back (Redis
   * reconnected and resubscribed): events published meanwhile reach nobody
   * live, so the bus reads them from history. Live events that came on the new
   * feed before the listeners ran are handed to the subscribers right after
   * them, so a listener that starts holding live events when called misses
   * none and sees none before it. Returns the remover.
   */
  onReconnect(listener: () => void): () => void;
  health(): EngineHealth;
  /** Sizes of the engine's own maps, for cleanup checks and metrics. */
  stats(): Record<string, number>;
  close(): Promise<void>;
}
