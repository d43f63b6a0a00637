import { type PresenceEvent, presenceInput, presenceListSchema } from '../../shared/presence';
import { topics } from '../../shared/topics';
import { isGranted } from '../auth/principal';
import { apiError } from '../errors';
import type { Context } from '../trpc/context';
import { authedProcedure, router } from '../trpc/init';

/**
 * The same access as `investigation.onUpdate`: whoever may watch an
 * investigation may see who watches it, and an access revoked for this token
 * (admin.revokeAccess) refuses both.
 */
async function checkAccess(ctx: Context, investigationId: string) {
  if (!ctx.principal || !isGranted(ctx.principal, 'investigations', investigationId))
    throw apiError('not_granted', `investigation ${investigationId}`);
  const revoked = await ctx.app.admin.subscriptionAccess.check(ctx.principal, topics.investigation(investigationId));
  if (revoked) throw revoked;
}

/** Who is watching an investigation, live, across nodes. */
export const presenceRouter = router({
  /**
   * `presence_state` (the current watchers), then `presence_join` /
   * `presence_leave`. Untracked: a resubscription starts from the state again.
   * The transport iterates what it returns (rpcSession.ts).
   */
  onChange: authedProcedure.input(presenceInput).subscription(async ({ ctx, input }) => {
    await checkAccess(ctx, input.investigationId);
    const stream = ctx.app.presence.watch(input.investigationId);
    try {
      await stream.ready;
    } catch (cause) {
      stream.close();
      throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
    }
    // Typed as what it yields: the contract shows events, not the server's class.
    const events: AsyncIterable<PresenceEvent> = stream;
    return events;
  }),

  /** The watchers now: the same list as `presence_state`. */
  get: authedProcedure
    .input(presenceInput)
    .output(presenceListSchema)
    .query(async ({ ctx, input }) => {
      await checkAccess(ctx, input.investigationId);
      try {
        return await ctx.app.presence.list(input.investigationId);
      } catch (cause) {
        throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
      }
    }),
});
