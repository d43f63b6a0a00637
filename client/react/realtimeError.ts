/** Why a subscription or a call was refused: the tRPC code and our stable reason (shared/errors.ts). */
export interface RealtimeError {
  message: string;
  code?: string;
  reason?: string;
}

/** A plain object of what an error says, for rendering; anything thrown fits. */
export function toRealtimeError(err: unknown): RealtimeError {
  const data = (err as { data?: { code?: unknown; reason?: unknown } } | null)?.data;
  return {
    message: err instanceof Error ? err.message : String(err),
    code: typeof data?.code === 'string' ? data.code : undefined,
    reason: typeof data?.reason === 'string' ? data.reason : undefined,
  };
}
