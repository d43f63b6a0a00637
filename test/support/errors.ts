import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import type { ErrorReason } from '../../shared/errors';

/** What a test asserts of a refused call or subscription: the tRPC code and our stable reason (shared/errors.ts). */
export interface Refusal {
  code: unknown;
  reason: unknown;
}

/** The code and reason of the error a call or subscription failed with; fails the test unless it is a TRPCClientError. */
export function refusalOf(err: unknown): Refusal {
  expect(err).toBeInstanceOf(TRPCClientError);
  const data = (err as TRPCClientError<never>).data as { code?: unknown; reason?: unknown } | undefined;
  return { code: data?.code, reason: data?.reason };
}

/** Runs `call` and returns the code and reason it was refused with; fails the test if it succeeds. */
export async function rejectionOf(call: () => Promise<unknown>): Promise<Refusal> {
  try {
    await call();
  } catch (err) {
    return refusalOf(err);
  }
  throw new Error('expected the call to be refused, but it succeeded');
}

/** Asserts both the code and the reason (typed, so a misspelt reason fails the typecheck). */
export function expectRefused(refusal: Refusal, code: string, reason: ErrorReason): void {
  expect(refusal).toEqual({ code, reason });
}
