/**
 * Time as the token checks see it: the current time and the timers that fire
 * at a token's expiry or an authentication deadline. Injectable so a test can
 * move a token past its `exp` without waiting for it; everything else (batch
 * windows, keepalive) runs on the real timers.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned handle cancels it. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

/** Opaque to callers: whatever the clock hands out. */
export type ClockTimer = { readonly __clockTimer?: never } | NodeJS.Timeout;

/** Node's own clock and timers; the longest delay is clamped to what setTimeout takes. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(ms, 0), 2_147_483_647)),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};
