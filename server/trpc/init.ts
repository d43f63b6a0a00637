import { initTRPC, type TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { isService } from '../auth/principal';
import { apiError, isUnparsedInput, reasonOf } from '../errors';
import type { Context } from './context';
import { bounded, errorBounds } from './errorBounds';
import { inputIssues } from './inputIssues';
import { transformer } from './transformer';

/**
 * The message a client may read. An internal error says only that (its cause
 * is logged by the transport, never sent); an error caused by a RangeError
 * (input nested or sized past what the runtime takes: "Maximum call stack size
 * exceeded") names no runtime text either.
 */
function publicMessage(error: TRPCError, message: string): string {
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'internal error';
  if (error.cause instanceof RangeError) return 'the input could not be processed';
  return message;
}

const t = initTRPC.context<Context>().create({
  transformer,
  // Subscriptions over Server-Sent Events (transport/sseTransport.ts): a ping
  // event every 15 s keeps proxies from cutting a quiet stream, and tells the
  // client (httpSubscriptionLink) to reopen one silent for 45 s, from its last id.
  sse: {
    ping: { enabled: true, intervalMs: 15_000 },
    client: { reconnectAfterInactivityMs: 45_000 },
  },
  errorFormatter({ shape, error }) {
    // `reason` is the contract's stable error code (shared/errors.ts). An
    // invalid input gets a one-line message naming each field, and the issues
    // as data; stack traces never leave the server. Everything echoed is
    // bounded (errorBounds.ts): an error frame has a fixed maximum size.
    const { stack: _stack, path, ...data } = shape.data;
    const all = error.cause instanceof ZodError ? inputIssues(error.cause) : null;
    const issues = all?.slice(0, errorBounds.issues).map((i) => ({ path: bounded(i.path), message: bounded(i.message) })) ?? null;
    let message = bounded(publicMessage(error, shape.message), errorBounds.messageChars);
    if (all && issues) {
      const more = all.length > issues.length ? `; and ${all.length - issues.length} more` : '';
      const listed = `invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`;
      message = bounded(listed, errorBounds.messageChars - more.length) + more;
    }
    const notJson = isUnparsedInput(error);
    return {
      ...shape,
      ...(notJson ? { code: TRPC_ERROR_CODES_BY_KEY.PARSE_ERROR } : {}),
      message,
      data: {
        ...data,
        ...(notJson ? { code: 'PARSE_ERROR' as const } : {}),
        ...(path === undefined ? {} : { path: bounded(path) }),
        reason: reasonOf(error) ?? null,
        issues,
      },
    };
  },
});

export const router = t.router;
export const publicProcedure = t.procedure;

/**
 * An authenticated procedure. Over HTTP every call of a user (not a service)
 * costs one token of the user's budget; services are not throttled (a
 * backend's burst of updates must not be lost). Over WebSocket the
 * connection's own budget already paid for the frame that carried the call
 * (transport/connection.ts): a call waits for it, it is never refused.
 *
 * A subscription needs a streaming transport: a WebSocket connection or a
 * Server-Sent Events stream (whose opening already paid the user's budget,
 * transport/sseTransport.ts); over plain HTTP it is `websocket_required`. On
 * a stream, what the procedure returns is handed to the stream, which
 * delivers it (batched, bounded, ended at the token's expiry).
 */
export const authedProcedure = t.procedure.use(async ({ ctx, type, next }) => {
  const { principal, connection, app } = ctx;
  const sse = ctx.sse ?? null;
  if (!principal) throw apiError('token_missing');
  if (type === 'subscription' && !connection && !sse) throw apiError('websocket_required');
  if (!connection && !sse && !isService(principal) && !(await app.rateLimiter.consumeUser(principal.userId))) {
    app.metrics.rateLimited.inc();
    throw apiError('rate_limited');
  }
  const result = await next({ ctx: { ...ctx, principal } });
  if (sse && type === 'subscription' && result.ok) return { ...result, data: await sse.deliver(result.data) };
  return result;
});

export const serviceProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!isService(ctx.principal)) throw apiError('service_role_required');
  return next();
});
