import type { InvestigationEvent } from '../../shared/events';
import { investigationSubscribeInput, notifyAnomalyInput, notifyInvestigationUpdateInput } from '../../shared/inputs';
import { topics } from '../../shared/topics';
import { isGranted } from '../auth/principal';
import { apiError } from '../errors';
import { publisherOf } from '../publish/publishers';
import { authedProcedure, router, serviceProcedure } from '../trpc/init';
import { subscribe } from './subscribe';

export const investigationRouter = router({
  onUpdate: authedProcedure.input(investigationSubscribeInput).subscription(async ({ ctx, input }) => {
    if (!isGranted(ctx.principal, 'investigations', input.investigationId))
      throw apiError('not_granted', `investigation ${input.investigationId}`);
    return subscribe<InvestigationEvent>(ctx, topics.investigation(input.investigationId), {
      startAfter: input.lastEventId ?? null,
      ifUnknown: 'resync',
    });
  }),

  notifyUpdate: serviceProcedure
    .input(notifyInvestigationUpdateInput)
    .mutation(({ ctx, input }) => ctx.app.publishers.notifyInvestigationUpdate(input, publisherOf(ctx.principal))),

  notifyAnomaly: serviceProcedure
    .input(notifyAnomalyInput)
    .mutation(({ ctx, input }) => ctx.app.publishers.notifyAnomalyDetected(input, publisherOf(ctx.principal))),
});
