import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import type { SubscriptionOptions } from '../bus/subscription';
import { apiError } from '../errors';
import type { Context } from '../trpc/context';

type Options = Pick<SubscriptionOptions, 'startAfter' | 'ifUnknown' | 'onDelivered'> & { signal: AbortSignal | undefined };

/**
 * The one way a procedure subscribes a connection to a topic: it takes a
 * subscription slot (TOO_MANY_REQUESTS past the limit), corks the socket for
 * each batch, closes a connection that cannot keep up with 4013, and frees
 * everything when the subscription ends, however it ends.
 */
export async function subscribe<E extends RealtimeEvent>(ctx: Context, topic: string, opts: Options) {
  const connection = ctx.connection!;
  const { app } = ctx;
  const { signal, release } = connection.leaseSubscription(opts.signal ?? new AbortController().signal);
  const limit = app.config.limits.SLOW_CONSUMER_BYTES;
  const slow = () => {
    app.metrics.slowConsumers.inc();
    app.logger.warn({ event: 'slow_consumer', connectionId: connection.id, buffered: connection.bufferedAmount });
    // Its subscriptions stop and their queues are freed now; the close frame
    // waits behind what is already buffered, and the client resumes from the
    // last id it read.
    connection.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
  };
  const subscription = app.bus.open<E>(topic, {
    startAfter: opts.startAfter,
    ifUnknown: opts.ifUnknown,
    signal,
    onClose: release,
    onOverflow: slow,
    beforeBatch: () => connection.cork(),
    onDelivered: (event: RealtimeEvent) => {
      app.metrics.delivered.inc();
      opts.onDelivered?.(event);
      // Checked per event, not per batch: one batch can hold a whole history.
      if (connection.bufferedAmount > limit) slow();
    },
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
