import type { RealtimeEvent } from '../../shared/events';
import { topicKind } from '../../shared/topics';
import type { SubscriptionOptions } from '../bus/topicSubscription';
import { apiError } from '../errors';
import type { Context } from '../trpc/context';

type Options = Pick<SubscriptionOptions, 'startAfter' | 'ifUnknown' | 'onDelivered'>;

/**
 * The one way a procedure subscribes a connection to a topic: it opens a bus
 * subscription and returns it once the topic's live feed is certain. The
 * transport's session (rpcSession.ts) owns it from then on: it counts it
 * against MAX_SUBSCRIPTIONS_PER_CONNECTION, writes what it delivers straight
 * to the socket, and closes it on stop, on failure or when the connection
 * ends (a subscriber that falls too far behind ends its connection with 4013).
 */
export async function subscribe<E extends RealtimeEvent>(ctx: Context, topic: string, opts: Options) {
  const subscription = ctx.app.bus.open<E>(topic, {
    startAfter: opts.startAfter,
    ifUnknown: opts.ifUnknown,
    onDelivered: opts.onDelivered,
  });
  // `started` goes to the client only once nothing published from then on can
  // be missed; an engine that cannot promise that in time is an error.
  // (A topic already live on this node is ready: no timer to arm and clear.)
  try {
    if (!subscription.isReady) await withTimeout(subscription.ready, SUBSCRIBE_TIMEOUT_MS);
  } catch (cause) {
    subscription.close();
    throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
  }
  // A live subscription to `investigation:<id>` makes its user a member of the
  // investigation's presence (both dialects subscribe through here) until it closes.
  if (ctx.principal && topicKind(topic) === 'investigation') {
    const { presence } = ctx.app;
    subscription.whenClosed(presence.untrack, presence.track(topic.slice(topic.indexOf(':') + 1), ctx.principal.userId));
  }
  return subscription;
}

/** How long a new subscription waits for the engine's live feed (Redis SUBSCRIBE) before failing. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
