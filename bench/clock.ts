/**
 * Milliseconds on a clock that every process of one machine shares closely
 * enough (wall-clock origin of the process plus its monotonic time), with
 * sub-millisecond resolution. Publishers stamp events with it and the load
 * generator subtracts it on receipt: the difference is end-to-end latency.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
