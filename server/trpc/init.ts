import { initTRPC } from '@trpc/server';
import { ZodError } from 'zod';
import { isService } from '../auth/principal';
import { apiError, reasonOf } from '../errors';
import type { Context } from './context';
import { inputIssues } from './inputIssues';
import { transformer } from './transformer';

const t = initTRPC.context<Context>().create({
  transformer,
  errorFormatter({ shape, error }) {
    // `reason` is the contract's stable error code (shared/errors.ts). An
    // invalid input gets a one-line message naming each field, and the issues
    // as data; stack traces never leave the server.
    const { stack: _stack, ...data } = shape.data;
    const issues = error.cause instanceof ZodError ? inputIssues(error.cause) : null;
    const message = issues ? `invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` : shape.message;
    return { ...shape, message, data: { ...data, reason: reasonOf(error) ?? null, issues } };
  },
});

export const router = t.router;
export const publicProcedure = t.procedure;

/**
 * Every call of an authenticated procedure costs one token from the caller's
 * bucket: per connection over WebSocket, per user over HTTP. Services calling
 * over HTTP are not throttled: a backend's burst of updates must not be lost.
 */
export const authedProcedure = t.procedure.use(async ({ ctx, type, next }) => {
  const { principal, connection, app } = ctx;
  if (!principal) throw apiError('token_missing');
  if (type === 'subscription' && !connection) throw apiError('websocket_required');
  const allowed = connection
    ? await app.rateLimiter.consumeConnection(connection.id)
    : isService(principal) || (await app.rateLimiter.consumeUser(principal.userId));
  if (!allowed) {
    app.metrics.rateLimited.inc();
    throw apiError('rate_limited');
  }
  return next({ ctx: { ...ctx, principal } });
});

export const serviceProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!isService(ctx.principal)) throw apiError('service_role_required');
  return next();
});
