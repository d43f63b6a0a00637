import { disconnectUserInput, eraseUserInput, revokeAccessInput, revokeTokenInput } from '../../shared/adminInputs';
import { topics } from '../../shared/topics';
import { isAdmin, isService } from '../auth/principal';
import { apiError } from '../errors';
import { authedProcedure, router } from '../trpc/init';

/** Operator actions need the service or admin role (`admin_role_required` otherwise). */
const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!isService(ctx.principal) && !isAdmin(ctx.principal)) throw apiError('admin_role_required');
  return next();
});

/** Operator actions (service or admin role), applied on every node; each is logged (`admin_action`), never with a token. */
export const adminRouter = router({
  disconnectUser: adminProcedure.input(disconnectUserInput).mutation(({ ctx, input }) => {
    ctx.app.logger.info({ event: 'admin_action', action: 'disconnectUser', by: ctx.principal.userId, userId: input.userId });
    return ctx.app.admin.disconnectUser(input.userId, input.reason);
  }),

  revokeAccess: adminProcedure.input(revokeAccessInput).mutation(({ ctx, input }) => {
    const resource = 'investigationId' in input ? topics.investigation(input.investigationId) : topics.analysis(input.analysisId);
    ctx.app.logger.info({ event: 'admin_action', action: 'revokeAccess', by: ctx.principal.userId, userId: input.userId, resource });
    return ctx.app.admin.revokeAccess(input.userId, resource);
  }),

  revokeToken: adminProcedure.input(revokeTokenInput).mutation(({ ctx, input }) => {
    ctx.app.logger.info({ event: 'admin_action', action: 'revokeToken', by: ctx.principal.userId, jti: input.jti });
    return ctx.app.admin.revokeToken(input.jti);
  }),

  eraseUser: adminProcedure.input(eraseUserInput).mutation(async ({ ctx, input }) => {
    ctx.app.logger.info({ event: 'admin_action', action: 'eraseUser', by: ctx.principal.userId, userId: input.userId });
    const removed = await ctx.app.admin.eraseUser(input.userId);
    ctx.app.logger.info({ event: 'admin_erased', by: ctx.principal.userId, userId: input.userId, removed });
    return removed;
  }),
});
