/**
 * Exponential backoff with full jitter: the delay before retry `attempt`
 * (0-based) is uniform in [0, min(maxMs, initialMs * factor^attempt)]. Full
 * jitter spreads the clients of a restarted node over the whole window, so
 * they do not all come back in the same millisecond.
 */
export interface BackoffOptions {
  /** Upper bound of the first retry's delay. Default 1 000 ms. */
  initialMs?: number;
  /** No delay is ever longer than this. Default 30 000 ms. */
  maxMs?: number;
  /** How much the upper bound grows per attempt (at least 1). Default 2. */
  factor?: number;
}

export type Backoff = Readonly<Required<BackoffOptions>>;

export const backoffDefaults: Backoff = { initialMs: 1_000, maxMs: 30_000, factor: 2 };

/** Fills in the defaults and refuses options that cannot describe a bounded backoff. */
export function resolveBackoff(options: BackoffOptions = {}): Backoff {
  const backoff = { ...backoffDefaults, ...stripUndefined(options) };
  const { initialMs, maxMs, factor } = backoff;
  if (!Number.isFinite(initialMs) || initialMs < 0)
    throw new RangeError(`backoff.initialMs must be a finite number >= 0, got ${initialMs}`);
  if (!Number.isFinite(maxMs) || maxMs < initialMs)
    throw new RangeError(`backoff.maxMs must be a finite number >= initialMs (${initialMs}), got ${maxMs}`);
  if (!Number.isFinite(factor) || factor < 1) throw new RangeError(`backoff.factor must be a finite number >= 1, got ${factor}`);
  return Object.freeze(backoff);
}

function stripUndefined(options: BackoffOptions): BackoffOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** The largest delay retry `attempt` (0-based) may wait: min(maxMs, initialMs * factor^attempt), in whole ms. */
export function backoffCap(attempt: number, backoff: Backoff): number {
  if (backoff.initialMs === 0) return 0;
  const grown = backoff.initialMs * backoff.factor ** Math.max(0, attempt);
  // factor^attempt overflows to Infinity long before attempts run out.
  return Math.floor(Number.isFinite(grown) ? Math.min(backoff.maxMs, grown) : backoff.maxMs);
}

/** A delay for retry `attempt`, uniform over the whole integers of [0, backoffCap(attempt)]. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const cap = backoffCap(attempt, backoff);
  return Math.min(cap, Math.floor(random() * (cap + 1)));
}
