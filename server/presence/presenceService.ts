import { randomUUID } from 'node:crypto';
import { inputBounds } from '../../shared/limits';
import type { PresenceEvent, PresenceList, PresenceStateEvent } from '../../shared/presence';
import type { ControlChannel, ControlMessage } from '../cluster/controlChannel';
import type { Logger } from '../observability/logger';
import { atMost } from '../redis/atMost';
import type { RedisClients } from '../redis/connect';
import { memoryPresenceBackend, type PresenceBackend, type PresenceEntry, redisPresenceBackend } from './presenceBackend';
import { PresenceStream } from './presenceStream';

/** Who is watching which investigation, on every node (README "Presence"). */
export interface PresenceService {
  /**
   * A subscription to `investigation:<id>` went live for `userId`; returns
   * the membership its close hands to `untrack` (shared by the user's
   * subscriptions to it on this node: nothing is made per subscription).
   */
  track(investigationId: string, userId: string): Membership;
  /** One subscription that `track` counted closed. */
  untrack(member: Membership): void;
  /** A watcher of the investigation's presence: `presence_state` first (once `ready`), then joins and leaves. */
  watch(investigationId: string): PresenceStream;
  /** The investigation's members now, on every node. */
  list(investigationId: string): Promise<PresenceList>;
  /** Removes the user from presence on every node (their subscriptions no longer count); resolves once sent to every node. */
  eraseUser(userId: string): Promise<void>;
  /** Sizes of every map keyed by investigation, user or watcher: all zero once everyone left. */
  stats(): PresenceStats;
  /** Stops the timer and takes this node's members out (Redis: at most its timeout). */
  close(): Promise<void>;
}

interface PresenceStats {
  /** Investigations with members on this node, and those members (user per investigation). */
  investigations: number;
  members: number;
  /** Investigations watched from this node, and their watchers. */
  watchedInvestigations: number;
  watchers: number;
  /** Investigations whose entries wait to be written. */
  pendingWrites: number;
}

export interface PresenceServiceOptions {
  control: ControlChannel;
  logger: Logger;
  /** PRESENCE_TTL_SECONDS in ms: a node's entries expire after it; it renews them every third of it. */
  ttlMs: number;
  /** Shared across nodes when given; this process's memory otherwise. */
  redis?: RedisClients;
  /** Members listed (the total counts them all); default inputBounds.presenceListed. */
  maxListed?: number;
}

/** The notices of the control channel this service sends and hears. */
const CHANGED = 'presence';
const ERASE = 'presence_erase';

/** A user's subscriptions to one investigation on this node. */
interface Membership extends PresenceEntry {
  readonly investigationId: string;
  readonly userId: string;
}

/** The watchers of one investigation on this node, and the members they were last told of. */
interface WatchGroup {
  readonly streams: Set<PresenceStream>;
  /** Every node's members at the last computation; null before the first. */
  last: Map<string, PresenceEntry> | null;
  /** A computation is running; `dirty`: another was asked for meanwhile. */
  running: boolean;
  dirty: boolean;
}

function byWatchingLongest(a: [string, PresenceEntry], b: [string, PresenceEntry]) {
  return a[1].since - b[1].since || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

export function createPresenceService(opts: PresenceServiceOptions): PresenceService {
  const { control, logger, ttlMs } = opts;
  const maxListed = opts.maxListed ?? inputBounds.presenceListed;
  const nodeId = randomUUID();
  /** This node's members: investigation → user → its subscriptions here and since when. */
  const local = new Map<string, Map<string, Membership>>();
  const groups = new Map<string, WatchGroup>();
  /** Investigations whose local members changed since they were last written. */
  const pending = new Set<string>();
  let flushScheduled: NodeJS.Immediate | null = null;
  let closed = false;
  const backend: PresenceBackend = opts.redis
    ? redisPresenceBackend(opts.redis, nodeId, ttlMs)
    : memoryPresenceBackend((investigationId) => local.get(investigationId));

  function listOf(investigationId: string, members: ReadonlyMap<string, PresenceEntry>): PresenceList {
    const sorted = [...members].sort(byWatchingLongest).slice(0, maxListed);
    return {
      investigationId,
      members: sorted.map(([userId, entry]) => ({ userId, connections: entry.connections, since: new Date(entry.since) })),
      total: members.size,
    };
  }

  function stateEvent(investigationId: string, members: ReadonlyMap<string, PresenceEntry>): PresenceStateEvent {
    return { type: 'presence_state', timestamp: new Date(), data: listOf(investigationId, members) };
  }

  /** Writes the changed investigations' members, then tells every node. */
  function flush() {
    flushScheduled = null;
    const investigations = [...pending];
    pending.clear();
    return Promise.all(
      investigations.map(async (investigationId) => {
        try {
          await backend.write(investigationId, local.get(investigationId) ?? new Map());
          await control.broadcast({ kind: CHANGED, investigationId });
        } catch (err) {
          // The next renewal writes them again; watchers catch up on their next tick.
          logger.warn({ event: 'presence_write_failed', investigationId, message: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
  }

  function changed(investigationId: string) {
    if (closed) return;
    pending.add(investigationId);
    flushScheduled ??= setImmediate(() => void flush());
  }

  /** One computation per investigation at a time, its result fanned out to every watcher here. */
  async function recompute(investigationId: string) {
    const group = groups.get(investigationId);
    if (!group) return;
    if (group.running) {
      group.dirty = true;
      return;
    }
    group.running = true;
    try {
      do {
        group.dirty = false;
        const members = await backend.read(investigationId);
        if (groups.get(investigationId) !== group) return;
        apply(investigationId, group, members);
      } while (group.dirty);
    } catch (err) {
      // Debug: a Redis outage is reported by health already, and this repeats every tick.
      logger.debug({ event: 'presence_read_failed', investigationId, message: err instanceof Error ? err.message : String(err) });
      // Watchers still waiting for their first state are refused; the others keep the last one until the next tick.
      for (const stream of group.streams) if (!stream.hasState) stream.fail(err);
    } finally {
      group.running = false;
    }
  }

  function apply(investigationId: string, group: WatchGroup, members: Map<string, PresenceEntry>) {
    const last = group.last;
    group.last = members;
    const fresh = new Set([...group.streams].filter((stream) => !stream.hasState));
    if (fresh.size > 0) {
      const state = stateEvent(investigationId, members);
      for (const stream of fresh) stream.push(state);
    }
    if (last === null) return;
    const timestamp = new Date();
    const total = members.size;
    const events: PresenceEvent[] = [];
    for (const [userId, entry] of members) {
      const before = last.get(userId);
      if (before && before.connections === entry.connections && before.since === entry.since) continue;
      events.push({
        type: 'presence_join',
        timestamp,
        data: { investigationId, userId, connections: entry.connections, since: new Date(entry.since), total },
      });
    }
    for (const [userId, entry] of last) {
      if (members.has(userId)) continue;
      events.push({
        type: 'presence_leave',
        timestamp,
        data: { investigationId, userId, connections: 0, since: new Date(entry.since), total },
      });
    }
    if (events.length === 0) return;
    for (const stream of group.streams) {
      if (fresh.has(stream)) continue;
      for (const event of events) stream.push(event);
    }
  }

  function erase(userId: string) {
    for (const [investigationId, members] of local) {
      if (!members.delete(userId)) continue;
      if (members.size === 0) local.delete(investigationId);
      changed(investigationId);
    }
  }

  const unlisten = control.listen((message: ControlMessage) => {
    if (message.kind === CHANGED && typeof message.investigationId === 'string') {
      if (groups.has(message.investigationId)) void recompute(message.investigationId);
    } else if (message.kind === ERASE && typeof message.userId === 'string') {
      erase(message.userId);
    }
  });

  // Renews this node's entries (Redis) and recomputes every watched
  // investigation: members of a node that stopped renewing leave within the ttl.
  const tick = setInterval(
    () => {
      if (opts.redis) {
        // (A pending change is written, and announced, by its flush.)
        for (const [investigationId, members] of local) {
          if (pending.has(investigationId)) continue;
          backend.write(investigationId, members).catch((err: unknown) => {
            logger.warn({ event: 'presence_renew_failed', investigationId, message: err instanceof Error ? err.message : String(err) });
          });
        }
      }
      for (const investigationId of groups.keys()) void recompute(investigationId);
    },
    Math.max(100, Math.floor(ttlMs / 3)),
  );
  tick.unref();

  return {
    track(investigationId, userId) {
      let members = local.get(investigationId);
      if (!members) {
        members = new Map();
        local.set(investigationId, members);
      }
      let entry = members.get(userId);
      if (!entry) {
        entry = { investigationId, userId, connections: 0, since: Date.now() };
        members.set(userId, entry);
      }
      entry.connections++;
      changed(investigationId);
      return entry;
    },

    untrack(member) {
      const { investigationId, userId } = member;
      const now = local.get(investigationId);
      // Erased meanwhile (or erased and back): this subscription no longer counts.
      if (now?.get(userId) !== member) return;
      if (--member.connections === 0) {
        now.delete(userId);
        if (now.size === 0) local.delete(investigationId);
      }
      changed(investigationId);
    },

    watch(investigationId) {
      let group = groups.get(investigationId);
      if (!group) {
        group = { streams: new Set(), last: null, running: false, dirty: false };
        groups.set(investigationId, group);
      }
      const stream = new PresenceStream(
        investigationId,
        (closedStream) => {
          const current = groups.get(investigationId);
          if (!current?.streams.delete(closedStream)) return;
          if (current.streams.size === 0) groups.delete(investigationId);
        },
        () => {
          const last = groups.get(investigationId)?.last;
          return last ? stateEvent(investigationId, last) : null;
        },
      );
      group.streams.add(stream);
      // Known already: the state at once (the changes since follow); always a fresh look too.
      if (group.last) stream.push(stateEvent(investigationId, group.last));
      void recompute(investigationId);
      return stream;
    },

    async list(investigationId) {
      return listOf(investigationId, await backend.read(investigationId));
    },

    async eraseUser(userId) {
      await control.broadcast({ kind: ERASE, userId });
    },

    stats() {
      let members = 0;
      for (const users of local.values()) members += users.size;
      let watchers = 0;
      for (const group of groups.values()) watchers += group.streams.size;
      return { investigations: local.size, members, watchedInvestigations: groups.size, watchers, pendingWrites: pending.size };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tick);
      unlisten();
      if (flushScheduled) clearImmediate(flushScheduled);
      for (const group of [...groups.values()]) for (const stream of [...group.streams]) stream.close();
      // What is left of this node's members goes now rather than at its expiry.
      for (const investigationId of local.keys()) pending.add(investigationId);
      local.clear();
      const clearing = flush();
      await (opts.redis ? atMost(clearing, opts.redis.timeoutMs) : clearing);
    },
  };
}
