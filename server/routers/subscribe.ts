import type { RealtimeEvent } from '../../shared/events';
import type { SubscriptionOptions } from '../bus/topicSubscription';
import { apiError } from '../errors';
import type { Context } from '../trpc/context';

type Options = Pick<SubscriptionOptions, 'startAfter' | 'ifUnknown' | 'onDelivered'>;

/**
 * The one way a procedure subscribes a connection to a topic: it takes a
 * subscription slot (TOO_MANY_REQUESTS past the limit), closes a connection
 * that cannot keep up with 4013, and frees everything when the subscription
 * ends, however it ends. The transport (rpcSession.ts) owns the
 * subscription from then on: it closes it on stop or disconnect, and writes
 * what it delivers straight to the socket.
 */
export async function subscribe<E extends RealtimeEvent>(ctx: Context, topic: string, opts: Options) {
  const connection = ctx.connection!;
  const subscription = ctx.app.bus.open<E>(topic, {
    startAfter: opts.startAfter,
    ifUnknown: opts.ifUnknown,
    owner: connection.takeSubscriptionSlot(),
    onDelivered: opts.onDelivered,
  });
  // `started` goes to the client only once nothing published from then on can
  // be missed; an engine that cannot promise that in time is an error.
  try {
    await withTimeout(subscription.ready, SUBSCRIBE_TIMEOUT_MS);
  } catch (cause) {
    subscription.close();
    throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
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
