import type { Logger } from '../observability/logger';
import { atMost } from '../redis/atMost';
import type { RedisClients } from '../redis/connect';

/**
 * A command or notice for every node of the deployment: an operator's action
 * (disconnect a user, revoke access or a token, erase a user) or a presence
 * change. Plain JSON; `kind` says what it is, the rest is that kind's.
 */
export interface ControlMessage {
  kind: string;
  [field: string]: unknown;
}

type ControlListener = (message: ControlMessage) => void;

/**
 * Every node hears every message, this one included. With Redis it travels on
 * the engine's own subscriber connection, which Redis feeds in one order: a
 * message broadcast before an event is published is handled on every node
 * before that event is delivered there (what makes "once revokeAccess has
 * resolved, nothing published afterwards reaches the user" hold). Listeners
 * run synchronously, in registration order.
 */
export interface ControlChannel {
  /** Resolves once the message is on its way to every node (Redis: PUBLISH answered; memory: handled). */
  broadcast(message: ControlMessage): Promise<void>;
  /** Hears every message from now on; returns the function that stops it. */
  listen(listener: ControlListener): () => void;
  close(): Promise<void>;
}

function dispatch(listeners: ReadonlySet<ControlListener>, message: ControlMessage, logger: Logger) {
  for (const listener of listeners) {
    try {
      listener(message);
    } catch (err) {
      logger.error({ event: 'control_listener_failed', kind: message.kind, err });
    }
  }
}

/** One process: a message is handled at once, before `broadcast` resolves. */
export function createMemoryControlChannel(logger: Logger): ControlChannel {
  const listeners = new Set<ControlListener>();
  return {
    async broadcast(message) {
      dispatch(listeners, message, logger);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}

/** Several nodes: one channel (`<prefix>control`) on the engine's subscriber connection. */
export function createRedisControlChannel(redis: RedisClients, logger: Logger): ControlChannel {
  const channel = `${redis.prefix}control`;
  const listeners = new Set<ControlListener>();
  const onMessage = (from: string, text: string) => {
    if (from !== channel) return;
    let message: ControlMessage;
    try {
      message = JSON.parse(text) as ControlMessage;
    } catch (err) {
      logger.error({ event: 'control_bad_message', err });
      return;
    }
    if (typeof message?.kind !== 'string') return;
    dispatch(listeners, message, logger);
  };
  redis.subscriber.on('message', onMessage);
  // ioredis subscribes again by itself after a reconnect.
  const subscribed = redis.subscriber.subscribe(channel).catch((err: unknown) => {
    logger.error({ event: 'control_subscribe_failed', message: err instanceof Error ? err.message : String(err) });
  });
  return {
    async broadcast(message) {
      await subscribed;
      await redis.command.publish(channel, JSON.stringify(message));
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      redis.subscriber.off('message', onMessage);
      // A subscriber waiting for an absent Redis would queue the command for ever: a stopping node does not wait.
      if (redis.subscriber.status === 'ready' && !redis.unresponsive()) {
        await atMost(redis.subscriber.unsubscribe(channel), redis.timeoutMs).catch(() => undefined);
      }
    },
  };
}
