import type { RealtimeEvent } from '../../shared/events';
import type { SubscriptionOptions } from '../bus/subscription';
import type { Context } from '../trpc/context';

type Options = Pick<SubscriptionOptions, 'startAfter' | 'ifUnknown' | 'onDelivered'> & { signal: AbortSignal | undefined };

/**
 * The one way a procedure subscribes a connection to a topic: it takes a
 * subscription slot (TOO_MANY_REQUESTS past the limit), corks the socket for
 * each batch, closes a connection that cannot keep up with 4013, and frees
 * everything when the subscription ends, however it ends.
 */
export function subscribe<E extends RealtimeEvent>(ctx: Context, topic: string, opts: Options) {
  const connection = ctx.connection!;
  const { app } = ctx;
  const signal = opts.signal ?? new AbortController().signal;
  const release = connection.leaseSubscription(signal);
  const limit = app.config.limits.SLOW_CONSUMER_BYTES;
  const slow = () => {
    app.metrics.slowConsumers.inc();
    app.logger.warn({ event: 'slow_consumer', connectionId: connection.id, buffered: connection.bufferedAmount });
    connection.close(4013, 'slow consumer');
  };
  return app.bus.open<E>(topic, {
    startAfter: opts.startAfter,
    ifUnknown: opts.ifUnknown,
    signal,
    onClose: release,
    onOverflow: slow,
    beforeBatch: () => {
      if (connection.bufferedAmount > limit) slow();
      else connection.cork();
    },
    onDelivered: (event: RealtimeEvent) => {
      app.metrics.delivered.inc();
      opts.onDelivered?.(event);
    },
  });
}
