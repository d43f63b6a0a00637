import type { Logger } from '../observability/logger';
import { atMost } from './atMost';
import type { RedisClients } from './connect';
import { groupBySlot } from './slotOf';

/** How soon a confirmation that failed (a shard still failing over) is tried again. */
const CONFIRM_RETRY_MS = 250;
/**
 * Messages held back during a cut, at most. Each of them is in its topic's
 * stream already, and the catch-up after the cut reads the streams, so past
 * this bound they are dropped instead of kept: nothing is lost, only read again.
 */
const MAX_HELD = 10_000;

export interface ChannelFeedOptions {
  /** Every channel with local listeners now: what a whole feed must be subscribed to. */
  channels(): string[];
  /** A message on one of them, in the order Redis sent it (held back while the feed is cut). */
  onMessage(channel: string, message: string): void;
  /**
   * The feed was cut and is whole again (every channel confirmed): what was
   * published meanwhile must be read from the streams. Called before the
   * messages held since the cut are handed on.
   */
  onWhole(): void;
}

export interface ChannelFeed {
  /** The command a publish script announces an event with: PUBLISH, or SPUBLISH on a cluster. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  /** Resolves once Redis confirmed the subscription. */
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channel: string): void;
  close(channels: readonly string[]): Promise<void>;
}

/**
 * The live feed of topic channels on the subscriber client: plain pub/sub on
 * one Redis, sharded pub/sub (one connection per primary) on a cluster.
 *
 * ioredis subscribes again by itself after a reconnect (on a cluster, after a
 * failover moved a shard to its replica), but a message published before that
 * took effect is gone. So a cut holds back what arrives from then on, the
 * feed confirms every channel with its own (S)SUBSCRIBE, and only then
 * `onWhole` lets the bus catch up from the streams and the held messages
 * follow: nothing is lost, and the bus drops what it already had.
 */
export function channelFeed(clients: RedisClients, logger: Logger, opts: ChannelFeedOptions): ChannelFeed {
  const { subscriber, cluster } = clients;
  const messageEvent = cluster ? 'smessage' : 'message';
  /** Messages since the feed was cut, while it is not confirmed whole: null while whole. */
  let heldSinceCut: [channel: string, message: string][] | null = null;
  /** Counts the cuts, so a confirmation of an older one releases nothing. */
  let cuts = 0;
  let connectedOnce = subscriber.status === 'ready';
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const send = (channels: readonly string[]): Promise<unknown> =>
    cluster ? subscriber.ssubscribe(...channels) : subscriber.subscribe(...channels);

  /** One command per slot on a cluster: a sharded SUBSCRIBE takes channels of one slot only. */
  const confirm = (channels: readonly string[]): Promise<unknown> => {
    if (channels.length === 0) return Promise.resolve();
    if (!cluster) return send(channels);
    return within(confirmShards(channels), clients.timeoutMs);
  };
  const confirmShards = (channels: readonly string[]): Promise<unknown> =>
    Promise.all(groupBySlot(channels, (channel) => channel, true).map(send));

  const onMessage = (channel: string, message: string) => {
    if (!heldSinceCut) opts.onMessage(channel, message);
    else if (heldSinceCut.length < MAX_HELD) heldSinceCut.push([channel, message]);
    else heldSinceCut.length = 0;
  };
  subscriber.on(messageEvent, onMessage);

  const onCut = () => {
    if (!connectedOnce || closed) return;
    cuts += 1;
    heldSinceCut ??= [];
    // Not every cut on a cluster is followed by `subscribersReady` (a node
    // dropped from the table while the subscribers stayed healthy): confirm
    // by itself too, and keep trying until every shard answers.
    if (cluster) {
      clearTimeout(retry);
      retry = setTimeout(onBack, CONFIRM_RETRY_MS);
    }
  };

  const release = () => {
    const held = heldSinceCut ?? [];
    heldSinceCut = null;
    opts.onWhole();
    for (const [channel, message] of held) opts.onMessage(channel, message);
  };

  const onBack = () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    if (!heldSinceCut || closed) return;
    clearTimeout(retry);
    const cut = cuts;
    const channels = opts.channels();
    confirm(channels).then(
      () => {
        // Cut again before the confirmation: the next one does this.
        if (cut !== cuts || closed) return;
        logger.info({ event: 'redis_resubscribed', channels: channels.length });
        release();
      },
      (err: unknown) => {
        if (cut !== cuts || closed) return;
        if (cluster) {
          // A shard still failing over: its channels are not live yet, so
          // releasing now would lose what is published until they are.
          logger.warn({ event: 'redis_resubscribe_retry', message: err instanceof Error ? err.message : String(err) });
          retry = setTimeout(onBack, CONFIRM_RETRY_MS);
          return;
        }
        // Not confirmed, yet the connection is up: the catch-up from the
        // streams still runs, and live messages are not held for ever.
        logger.warn({ event: 'redis_resubscribe_failed', err });
        release();
      },
    );
  };

  // One Redis: the connection closes and comes back. A cluster: a shard's
  // connection ends (its primary died), and the subscribers are ready again
  // once ioredis has the new slot table.
  const cutEvents = cluster ? ['-node', '-subscriber'] : ['close'];
  const backEvents = cluster ? ['ready', 'subscribersReady'] : ['ready'];
  for (const event of cutEvents) subscriber.on(event, onCut);
  for (const event of backEvents) subscriber.on(event, onBack);

  return {
    publishCommand: cluster ? 'SPUBLISH' : 'PUBLISH',
    subscribe: (channels) => send(channels).then(() => undefined),
    unsubscribe(channel) {
      (cluster ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel)).catch(() => undefined);
    },
    async close(channels) {
      closed = true;
      clearTimeout(retry);
      heldSinceCut = null;
      subscriber.off(messageEvent, onMessage);
      for (const event of cutEvents) subscriber.off(event, onCut);
      for (const event of backEvents) subscriber.off(event, onBack);
      if (channels.length === 0 || subscriber.status !== 'ready' || clients.unresponsive()) return;
      const unsubscribe = cluster
        ? Promise.allSettled(channels.map((channel) => subscriber.sunsubscribe(channel)))
        : subscriber.unsubscribe(...channels);
      await atMost(unsubscribe, clients.timeoutMs);
    },
  };
}

/** `work`, or a rejection after `ms`: a shard whose primary died may leave a command unanswered. */
function within(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no confirmation within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
