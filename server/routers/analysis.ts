import type { AnalysisEvent } from '../../shared/events';
import { analysisSubscribeInput, notifyAnalysisUpdateInput } from '../../shared/inputs';
import { topics } from '../../shared/topics';
import { isGranted } from '../auth/principal';
import { apiError } from '../errors';
import { publisherOf } from '../publish/publishers';
import { authedProcedure, router, serviceProcedure } from '../trpc/init';
import { subscribe } from './subscribe';

export const analysisRouter = router({
  onUpdate: authedProcedure.input(analysisSubscribeInput).subscription(async ({ ctx, input }) => {
    if (!isGranted(ctx.principal, 'analyses', input.analysisId)) throw apiError('not_granted', `analysis ${input.analysisId}`);
    return subscribe<AnalysisEvent>(ctx, topics.analysis(input.analysisId), {
      startAfter: input.lastEventId ?? null,
      ifUnknown: 'resync',
    });
  }),

  notifyUpdate: serviceProcedure
    .input(notifyAnalysisUpdateInput)
    .mutation(({ ctx, input }) => ctx.app.publishers.notifyAnalysisUpdate(input, publisherOf(ctx.principal))),
});
