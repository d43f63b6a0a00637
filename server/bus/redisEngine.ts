import type { EventDraft, RealtimeEvent } from '../../shared/events';
import type { Logger } from '../observability/logger';
import { type ChannelFeed, channelFeed } from '../redis/channelFeed';
import type { RedisClients } from '../redis/connect';
import { eraseScript, publishLiveScript, publishScript, readScript } from '../redis/scripts';
import { topicKeys } from '../redis/topicKeys';
import type {
  ClaimedPublish,
  EngineHealth,
  EventEngine,
  EventListener,
  HistoryRead,
  IdempotencyClaim,
  LiveFeed,
  Retention,
} from './engine';
import { newEpoch } from './history';

type StreamEntry = [id: string, fields: string[]];
type ClaimReply = [status: 0 | 1 | 2, id: string];
type ReadReply = [found: number, head: string, origin: string, trimmed: string, epoch: string, entries: StreamEntry[]];

/**
 * An event from its stream entry or channel message. The payload is plain
 * JSON, so the one Date the contract allows inside `data` (the source's
 * `timestamp`) comes back as a string and is made a Date again; the envelope's
 * timestamp is the id's milliseconds.
 */
function decode(id: string, payload: string): RealtimeEvent {
  const { type, data } = JSON.parse(payload) as EventDraft;
  const sourceTime = (data as { timestamp?: unknown }).timestamp;
  if (typeof sourceTime === 'string') (data as { timestamp?: Date }).timestamp = new Date(sourceTime);
  // In the contract's key order, as the memory engine builds events: one shape, and superjson's own bytes on the wire.
  return { type, data, id, timestamp: new Date(Number(id.slice(0, id.indexOf('-')))) } as RealtimeEvent;
}

/**
 * The engine for several nodes: histories in Redis Streams, fan-out between
 * nodes over pub/sub, sharded on a Redis Cluster (see redis/scripts.ts for the
 * key layout). A node subscribes to a topic's channel only while it has local
 * subscribers of it.
 *
 * `onLag` (optional) hears, for every event that arrives over pub/sub, how
 * long ago (ms) Redis stamped its id: the delay between nodes.
 */
export function createRedisEngine(clients: RedisClients, logger: Logger, onLag?: (ms: number) => void): EventEngine {
  const { prefix, command } = clients;

  const keys = (topic: string) => topicKeys(prefix, topic);
  /** Records of whole idempotent calls (`remember`), which span topics. */
  const callKey = (key: string) => `${prefix}idem-call:${key}`;
  /** Local listeners by channel; a channel is subscribed while its set is non-empty. */
  const listeners = new Map<string, Set<EventListener>>();
  /** The confirmation of each channel's SUBSCRIBE. */
  const subscribed = new Map<string, Promise<void>>();
  const reconnectListeners = new Set<() => void>();

  const dispatch = (channel: string, message: string) => {
    const set = listeners.get(channel);
    if (!set) return;
    const space = message.indexOf(' ');
    let event: RealtimeEvent;
    try {
      event = decode(message.slice(0, space), message.slice(space + 1));
    } catch (err) {
      logger.error({ event: 'redis_bad_message', channel, err });
      return;
    }
    onLag?.(Date.now() - event.timestamp.getTime());
    for (const listener of set) listener(event);
  };
  // Plain pub/sub on one Redis, sharded pub/sub on a cluster; either way the
  // feed tells when it was cut and confirmed whole again, then the bus catches
  // up from the streams before what came live meanwhile is handed on.
  const feed: ChannelFeed = channelFeed(clients, logger, {
    channels: () => [...listeners.keys()],
    onMessage: dispatch,
    onWhole: () => {
      for (const listener of reconnectListeners) listener();
    },
  });

  function subscribeChannel(channel: string): Promise<void> {
    const done = feed.subscribe([channel]);
    subscribed.set(channel, done);
    done.catch(() => {
      // Reported to whoever awaits `ready`; a later subscriber retries.
      if (subscribed.get(channel) === done) subscribed.delete(channel);
    });
    return done;
  }

  /** The arguments publishScript takes before a claim's (see redis/scripts.ts). */
  const publishArgs = (channel: string, retention: Retention, payload: string) => [
    channel,
    feed.publishCommand,
    retention.maxEvents,
    retention.ttlMs,
    payload,
    newEpoch(),
  ];

  return {
    kind: 'redis',

    async publish(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent> {
      const k = keys(topic);
      const payload = JSON.stringify({ type: draft.type, data: draft.data });
      const id = (await clients.replication.runDurably(
        publishScript,
        [k.stream, k.meta],
        publishArgs(k.channel, retention, payload),
      )) as string;
      return decode(id, payload);
    },

    async publishClaimed(topic: string, draft: EventDraft, retention: Retention, claim: IdempotencyClaim): Promise<ClaimedPublish> {
      const k = keys(topic);
      const payload = JSON.stringify({ type: draft.type, data: draft.data });
      const [status, id] = (await clients.replication.runDurably(
        publishScript,
        [k.stream, k.meta, `${k.claims}:${claim.key}`, k.claims],
        [...publishArgs(k.channel, retention, payload), claim.fingerprint, claim.ttlMs],
      )) as ClaimReply;
      if (status === 0) return { status: 'published', event: decode(id, payload) };
      if (status === 1) return { status: 'duplicate', id };
      return { status: 'conflict' };
    },

    async publishLive(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent> {
      const k = keys(topic);
      const payload = JSON.stringify({ type: draft.type, data: draft.data });
      const args = [k.channel, feed.publishCommand, retention.ttlMs, payload, newEpoch()];
      const id = (await publishLiveScript.run(command, [k.stream, k.meta], args)) as string;
      return decode(id, payload);
    },

    async remember(key: string, value: string, ttlMs: number) {
      await command.set(callKey(key), value, 'PX', ttlMs, 'NX');
    },

    async recall(key: string) {
      return command.get(callKey(key));
    },

    async erase(topic: string): Promise<number> {
      const k = keys(topic);
      return (await eraseScript.run(command, [k.stream, k.meta, k.claims], [])) as number;
    },

    async readAfter(topic: string, afterId: string): Promise<HistoryRead> {
      const k = keys(topic);
      const [found, head, origin, trimmed, epoch, entries] = (await readScript.run(command, [k.stream, k.meta], [afterId])) as ReadReply;
      return {
        found: found === 1,
        headId: head || null,
        originId: origin || null,
        trimmedThrough: trimmed || null,
        epoch: epoch || null,
        events: entries.map(([id, fields]) => decode(id, fields[1]!)),
      };
    },

    subscribe(topic: string, listener: EventListener): LiveFeed {
      const { channel } = keys(topic);
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(listener);
      // A SUBSCRIBE sent to a hung Redis would wait for it to wake up: refused at once, like a publish.
      const ready =
        subscribed.get(channel) ??
        (clients.unresponsive()
          ? Promise.reject(new Error('Redis is unresponsive: the live feed cannot be confirmed'))
          : subscribeChannel(channel));
      let open = true;
      return {
        ready,
        close: () => {
          if (!open) return;
          open = false;
          const current = listeners.get(channel);
          if (!current) return;
          current.delete(listener);
          if (current.size > 0) return;
          listeners.delete(channel);
          subscribed.delete(channel);
          feed.unsubscribe(channel);
        },
      };
    },

    async head(topic: string): Promise<string | null> {
      return command.hget(keys(topic).meta, 'head');
    },

    onReconnect(listener: () => void) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },

    health(): EngineHealth {
      if (command.status !== 'ready' || clients.subscriber.status !== 'ready')
        return { kind: 'redis', status: 'degraded', reason: 'redis_unreachable' };
      if (clients.unresponsive()) return { kind: 'redis', status: 'degraded', reason: 'redis_unresponsive' };
      return { kind: 'redis', status: 'ok' };
    },

    stats() {
      return { listenerTopics: listeners.size };
    },

    async close() {
      const channels = [...listeners.keys()];
      listeners.clear();
      subscribed.clear();
      reconnectListeners.clear();
      await feed.close(channels);
    },
  };
}
