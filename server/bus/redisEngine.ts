import type { EventDraft, RealtimeEvent } from '../../shared/events';
import type { Logger } from '../observability/logger';
import type { RedisClients } from '../redis/connect';
import { publishScript, readScript } from '../redis/scripts';
import type { EngineHealth, EventEngine, EventListener, HistoryRead, LiveFeed, Retention } from './engine';

type StreamEntry = [id: string, fields: string[]];
type ReadReply = [found: number, head: string, origin: string, trimmed: string, entries: StreamEntry[]];

/** An event as stored: the id is the stream id, the timestamp its milliseconds (Redis's clock, one for all nodes). */
function decode(id: string, payload: string): RealtimeEvent {
  const { type, data } = JSON.parse(payload) as EventDraft;
  return { id, type, data, timestamp: new Date(Number(id.slice(0, id.indexOf('-')))) } as RealtimeEvent;
}

/**
 * The engine for several nodes: histories in Redis Streams, fan-out between
 * nodes over pub/sub (see redis/scripts.ts for the key layout). A node
 * subscribes to a topic's channel only while it has local subscribers of it.
 */
export function createRedisEngine(clients: RedisClients, logger: Logger): EventEngine {
  const { prefix, subscriber, command } = clients;

  const keys = (topic: string) => ({ stream: `${prefix}s:${topic}`, meta: `${prefix}m:${topic}`, channel: `${prefix}c:${topic}` });
  /** Local listeners by channel; a channel is subscribed while its set is non-empty. */
  const listeners = new Map<string, Set<EventListener>>();
  /** The confirmation of each channel's SUBSCRIBE. */
  const subscribed = new Map<string, Promise<void>>();
  const reconnectListeners = new Set<() => void>();
  let connectedOnce = subscriber.status === 'ready';

  const onMessage = (channel: string, message: string) => {
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
    for (const listener of set) listener(event);
  };
  subscriber.on('message', onMessage);

  // ioredis resubscribes by itself after a reconnect; we confirm it with our
  // own SUBSCRIBE of every channel, and only then tell the bus to catch up.
  const onReady = () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    const channels = [...listeners.keys()];
    const confirmed = channels.length > 0 ? subscriber.subscribe(...channels) : Promise.resolve(0);
    confirmed.then(
      () => {
        logger.info({ event: 'redis_resubscribed', channels: channels.length });
        for (const listener of reconnectListeners) listener();
      },
      (err: unknown) => logger.warn({ event: 'redis_resubscribe_failed', err }),
    );
  };
  subscriber.on('ready', onReady);

  function subscribeChannel(channel: string): Promise<void> {
    const done = subscriber.subscribe(channel).then(() => undefined);
    subscribed.set(channel, done);
    done.catch(() => {
      // Reported to whoever awaits `ready`; a later subscriber retries.
      if (subscribed.get(channel) === done) subscribed.delete(channel);
    });
    return done;
  }

  return {
    kind: 'redis',

    async publish(topic: string, draft: EventDraft, retention: Retention): Promise<RealtimeEvent> {
      const k = keys(topic);
      const payload = JSON.stringify({ type: draft.type, data: draft.data });
      const id = (await publishScript.run(
        command,
        [k.stream, k.meta],
        [k.channel, retention.maxEvents, retention.ttlMs, payload],
      )) as string;
      return decode(id, payload);
    },

    async readAfter(topic: string, afterId: string): Promise<HistoryRead> {
      const k = keys(topic);
      const [found, head, origin, trimmed, entries] = (await readScript.run(command, [k.stream, k.meta], [afterId])) as ReadReply;
      return {
        found: found === 1,
        headId: head || null,
        originId: origin || null,
        trimmedThrough: trimmed || null,
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
      const ready = subscribed.get(channel) ?? subscribeChannel(channel);
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
          subscriber.unsubscribe(channel).catch(() => undefined);
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
      const down = [
        command.status !== 'ready' ? `commands: ${command.status}` : null,
        subscriber.status !== 'ready' ? `pub/sub: ${subscriber.status}` : null,
      ].filter((x): x is string => x !== null);
      return down.length === 0
        ? { kind: 'redis', status: 'ok' }
        : { kind: 'redis', status: 'degraded', reason: `redis unreachable (${down.join(', ')})` };
    },

    stats() {
      return { listenerTopics: listeners.size };
    },

    async close() {
      subscriber.off('message', onMessage);
      subscriber.off('ready', onReady);
      const channels = [...listeners.keys()];
      listeners.clear();
      subscribed.clear();
      reconnectListeners.clear();
      if (channels.length > 0 && subscriber.status === 'ready') await subscriber.unsubscribe(...channels).catch(() => undefined);
    },
  };
}
