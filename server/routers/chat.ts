import type { ChatEvent } from '../../shared/events';
import { chatCreateSessionInput, chatSendInput, chatSubscribeInput, chatTypingInput, chatWatchInput } from '../../shared/inputs';
import { topics } from '../../shared/topics';
import { isGranted } from '../auth/principal';
import { apiError } from '../errors';
import { authedProcedure, router } from '../trpc/init';
import { subscribe } from './subscribe';

export const chatRouter = router({
  createSession: authedProcedure.input(chatCreateSessionInput).mutation(({ ctx }) => ctx.app.chat.createSession(ctx.principal)),

  onEvent: authedProcedure.input(chatSubscribeInput).subscription(async ({ ctx, input }) => {
    const access = await ctx.app.chat.authorize(ctx.principal, input.sessionId, true);
    const subscription = await subscribe<ChatEvent>(ctx, topics.chat(input.sessionId), {
      startAfter: input.lastEventId ?? null,
      ifUnknown: 'resync',
    });
    // However long the owner stays idle, a session they are subscribed to stays theirs.
    if (access === 'owner') ctx.app.chat.renewWhileOpen(input.sessionId, ctx.principal.userId, subscription);
    return subscription;
  }),

  send: authedProcedure.input(chatSendInput).mutation(({ ctx, input }) => ctx.app.chat.send(ctx.principal, input.sessionId, input.content)),

  typing: authedProcedure
    .input(chatTypingInput)
    .mutation(({ ctx, input }) => ctx.app.chat.typing(ctx.principal, input.sessionId, input.isTyping)),

  watchInvestigation: authedProcedure.input(chatWatchInput).mutation(async ({ ctx, input }) => {
    if (!isGranted(ctx.principal, 'investigations', input.investigationId))
      throw apiError('not_granted', `investigation ${input.investigationId}`);
    // A watch is a subscription by other means: an access revoked for this token refuses it too.
    const revoked = await ctx.app.admin.subscriptionAccess.check(ctx.principal, topics.investigation(input.investigationId));
    if (revoked) throw revoked;
    return ctx.app.chat.watch(ctx.principal, input.sessionId, input.investigationId);
  }),
});
