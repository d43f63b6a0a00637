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
  /** The newest id that was trimmed (by count or age); null while nothing was. */
  trimmedThrough: string | null;
}

export interface EngineHealth {
  kind: 'memory' | 'redis';
  status: 'ok' | 'degraded';
  reason?: string;
}

export type EventListener = (event: RealtimeEvent) => void;

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
  /** Assigns the id (increasing within the topic), stores, and fans out to every node. */
  publish(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent>;
  /** The retained events after `afterId` (`0-0`: all of them). */
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
   * live, so the bus reads them from history. Returns the remover.
   */
  onReconnect(listener: () => void): () => void;
  health(): EngineHealth;
  /** Sizes of the engine's own maps, for cleanup checks and metrics. */
  stats(): Record<string, number>;
  close(): Promise<void>;
}
