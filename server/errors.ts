import { TRPCError } from '@trpc/server';
import { type ErrorReason, errorReasons } from '../shared/errors';

/**
 * The error a procedure throws on purpose. The `reason` travels to the client in
 * `error.data.reason` (see the error formatter in trpc/init.ts).
 */
export class ApiError extends TRPCError {
  readonly reason: ErrorReason;
  constructor(reason: ErrorReason, detail?: string) {
    const { code, message } = errorReasons[reason];
    super({ code, message: detail ? `${message}: ${detail}` : message });
    this.reason = reason;
  }
}

export function apiError(reason: ErrorReason, detail?: string): ApiError {
  return new ApiError(reason, detail);
}

/**
 * tRPC's HTTP adapter reports a body (or `?input=`) that is not JSON as a
 * BAD_REQUEST caused by JSON.parse's SyntaxError: to a client and in the
 * metrics it is a PARSE_ERROR, as over the WebSocket.
 */
export function isUnparsedInput(error: TRPCError): boolean {
  return error.code === 'BAD_REQUEST' && error.cause instanceof SyntaxError;
}

/** The reason of an error that was raised as an ApiError, or wraps one. */
export function reasonOf(error: unknown): ErrorReason | undefined {
  if (error instanceof ApiError) return error.reason;
  if (error instanceof TRPCError && error.cause instanceof ApiError) return error.cause.reason;
  return undefined;
}
