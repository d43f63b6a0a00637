import type { TRPCClientError } from '@trpc/client';
import { backoffDelay } from '../sdk/backoff';
import type { AppRouter } from '../sdk/types';
import { TransportFailure } from './transport';

/**
 * Which failed publishes may be sent again under the same idempotency key:
 * those that may not have reached the store, or whose answer was lost, i.e.
 * a network failure, a proxy's 502/503/504, and the API's own
 * SERVICE_UNAVAILABLE (engine_unavailable, server_closing,
 * store_unavailable). Every other refusal (BAD_REQUEST, UNAUTHORIZED,
 * FORBIDDEN, CONFLICT, TOO_MANY_REQUESTS, ...) would be refused again.
 */
export function isRetryable(error: TRPCClientError<AppRouter>): boolean {
  if (error.data) return error.data.code === 'SERVICE_UNAVAILABLE';
  return error.cause instanceof TransportFailure;
}

/** The delay before retry `attempt` (0-based): full jitter, uniform in [0, retryDelayMs * 2^attempt]. */
export function retryDelay(attempt: number, retryDelayMs: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, { initialMs: retryDelayMs, maxMs: Number.MAX_SAFE_INTEGER, factor: 2 }, random);
}
