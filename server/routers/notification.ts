import { ORIGIN_EVENT_ID } from '../../shared/eventId';
import type { NotificationEvent } from '../../shared/events';
import { notificationSubscribeInput, sendNotificationInput } from '../../shared/inputs';
import { topics } from '../../shared/topics';
import { apiError } from '../errors';
import { publisherOf } from '../publish/publishers';
import { authedProcedure, router, serviceProcedure } from '../trpc/init';
import { subscribe } from './subscribe';

export const notificationRouter = router({
  /**
   * The caller's notifications. Without `lastEventId` it starts after the
   * user's delivered cursor, so what arrived while they were offline comes
   * first, once; each delivered notification moves the cursor.
   */
  onNotification: authedProcedure.input(notificationSubscribeInput).subscription(async ({ ctx, input }) => {
    const { app, principal } = ctx;
    const { notificationCursors } = app;
    const userId = principal.userId;
    const explicit = input?.lastEventId ?? null;
    const cursor =
      explicit ??
      (await notificationCursors.get(userId).catch((cause: unknown) => {
        // No cursor, no start: refused like any subscription the shared state cannot serve now.
        throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
      })) ??
      ORIGIN_EVENT_ID;
    // One cursor write per turn, not per notification: only the last id matters.
    let delivered: string | null = null;
    const writeCursor = () => {
      const id = delivered!;
      delivered = null;
      notificationCursors.advance(userId, id).catch((err: unknown) => {
        app.logger.warn({ event: 'cursor_write_failed', userId, err });
      });
    };
    return subscribe<NotificationEvent>(ctx, topics.notification(userId), {
      startAfter: cursor,
      ifUnknown: explicit ? 'resync' : 'replay_retained',
      onDelivered: (events) => {
        let last: string | null = null;
        for (const event of events) if (event.type === 'notification') last = event.id;
        if (last === null) return;
        if (delivered === null) setImmediate(writeCursor);
        delivered = last;
      },
    });
  }),

  send: serviceProcedure
    .input(sendNotificationInput)
    .mutation(({ ctx, input }) => ctx.app.publishers.sendNotification(input, publisherOf(ctx.principal))),
});
