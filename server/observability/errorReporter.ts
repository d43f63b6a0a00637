import type { TRPCError } from '@trpc/server';
import { type ErrorMetricReason, errorReasons, metricReasonOfCode } from '../../shared/errors';
import { isUnparsedInput, reasonOf } from '../errors';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The `websocket_errors_total` reason of an error answered to a client. */
function metricReasonOf(error: TRPCError): ErrorMetricReason {
  if (isUnparsedInput(error)) return 'parse_error';
  const reason = reasonOf(error);
  return reason ? errorReasons[reason].metric : metricReasonOfCode(error.code);
}

/** Refusals an operator wants one line for: who failed to authenticate, who hit which bound. */
const loggedAtInfo: ReadonlySet<ErrorMetricReason> = new Set<ErrorMetricReason>([
  'auth_failed',
  'forbidden',
  'rate_limited',
  'too_many_connections',
  'too_many_subscriptions',
  'limit_reached',
]);

/** Who was refused, as far as the transport knows (never the token). */
export interface Refused {
  connectionId?: string;
  userId?: string;
  remoteAddress?: string;
}

export type ErrorReporter = (error: TRPCError, path: string | undefined, who?: Refused) => void;

/**
 * What every transport (tRPC over WebSocket, the JSON dialect, HTTP) does with
 * an error it answers: counts it by reason, logs a refusal at info and an
 * internal error with its cause (which the client never sees). Not counted: a
 * call the client itself abandoned. One refusal answered several times (a
 * connection's failed authentication, awaited by every call of its first
 * frame) counts once.
 */
export function createErrorReporter(logger: Logger, metrics: Metrics): ErrorReporter {
  const reported = new WeakSet<Error>();
  return function reportError(error, path, who) {
    if (error.code === 'CLIENT_CLOSED_REQUEST') return;
    const original = error.cause instanceof Error && reasonOf(error.cause) !== undefined ? error.cause : error;
    if (reported.has(original)) return;
    reported.add(original);
    const metricReason = metricReasonOf(error);
    metrics.error(metricReason);
    if (metricReason === 'internal') logger.error({ event: 'procedure_error', path, ...who, err: error });
    else if (loggedAtInfo.has(metricReason)) logger.info({ event: 'refused', reason: reasonOf(error) ?? error.code, path, ...who });
  };
}
