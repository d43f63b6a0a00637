import { describe, expect, test } from 'vitest';
import { backoffCap, backoffDefaults, backoffDelay, decideReconnect, resolveBackoff } from '../../client/index';

/**
 * The delay rules, as pure functions: no clock, no sockets. The clients use
 * exactly these (the reconnect tests check the delay a client reports).
 */
describe('backoff: exponential, full jitter, bounded', () => {
  const backoff = resolveBackoff({ initialMs: 100, maxMs: 5_000, factor: 2 });
  const samplesPerAttempt = 2_000;

  test('every delay lies in [0, cap]; the cap is initial * factor^attempt until it reaches max, then stays there', () => {
    const caps: number[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      const cap = backoffCap(attempt, backoff);
      caps.push(cap);
      const delays = Array.from({ length: samplesPerAttempt }, () => backoffDelay(attempt, backoff));
      const outside = delays.filter((d) => !Number.isInteger(d) || d < 0 || d > cap);
      expect(outside, `attempt ${attempt}, cap ${cap}`).toEqual([]);
    }
    expect(caps.slice(0, 8)).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    for (let i = 1; i < caps.length; i++) expect(caps[i]).toBeGreaterThanOrEqual(caps[i - 1]!);
    expect(Math.max(...caps)).toBe(5_000);
    // Far past any overflow of factor^attempt.
    expect(backoffCap(10_000, backoff)).toBe(5_000);
  });

  test('the delays are jittered over the whole window, not clustered at the cap', () => {
    for (const attempt of [0, 3, 12]) {
      const cap = backoffCap(attempt, backoff);
      const delays = Array.from({ length: samplesPerAttempt }, () => backoffDelay(attempt, backoff));
      // With 2 000 uniform samples each quarter of the window is hit (a miss has probability 4 * 0.75^2000).
      for (let quarter = 0; quarter < 4; quarter++) {
        const lo = (cap * quarter) / 4;
        const hi = (cap * (quarter + 1)) / 4;
        expect(delays.some((d) => d >= lo && d <= hi)).toBe(true);
      }
      expect(new Set(delays).size).toBeGreaterThan(50);
    }
  });

  test('the ends of the window are reachable: random 0 gives 0, random just under 1 gives the cap', () => {
    expect(backoffDelay(4, backoff, () => 0)).toBe(0);
    expect(backoffDelay(4, backoff, () => 0.999_999)).toBe(1_600);
    expect(backoffDelay(50, backoff, () => 0.999_999)).toBe(5_000);
  });

  test('defaults, and options that cannot make a bounded backoff are refused', () => {
    expect(resolveBackoff()).toEqual(backoffDefaults);
    expect(resolveBackoff({ maxMs: 60_000 })).toEqual({ ...backoffDefaults, maxMs: 60_000 });
    expect(() => resolveBackoff({ initialMs: -1 })).toThrow(RangeError);
    expect(() => resolveBackoff({ initialMs: 500, maxMs: 100 })).toThrow(/maxMs/);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(/factor/);
    expect(() => resolveBackoff({ maxMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(backoffCap(7, resolveBackoff({ initialMs: 0, maxMs: 0 }))).toBe(0);
  });
});

describe('what follows a disconnect', () => {
  const backoff = resolveBackoff({ initialMs: 100, maxMs: 5_000, factor: 2 });
  const top = () => 0.999_999;

  test('1001, 1006, 1012 and 4013 retry with the backoff of their attempt', () => {
    for (const code of [1001, 1006, 1012, 4013]) {
      expect(decideReconnect({ code, reason: '' }, 0, backoff, top)).toEqual({ kind: 'retry', delayMs: 100 });
      expect(decideReconnect({ code, reason: '' }, 3, backoff, top)).toEqual({ kind: 'retry', delayMs: 800 });
    }
  });

  test('4008 and 1008 (kept over the incoming budget) wait the maximum delay from the first attempt on', () => {
    expect(decideReconnect({ code: 4008, reason: 'too_many_connections' }, 0, backoff, () => 0)).toEqual({ kind: 'retry', delayMs: 5_000 });
    expect(decideReconnect({ code: 1008, reason: 'rate_limited' }, 0, backoff, () => 0)).toEqual({ kind: 'retry', delayMs: 5_000 });
  });

  test('4001 retries with backoff (a fresh token is fetched before the attempt); getToken failing retries too', () => {
    expect(decideReconnect({ code: 4001, reason: 'token_expired' }, 1, backoff, top)).toEqual({ kind: 'retry', delayMs: 200 });
    expect(decideReconnect({ code: null, reason: 'getToken failed' }, 2, backoff, top)).toEqual({ kind: 'retry', delayMs: 400 });
  });

  test('codes after which retrying cannot help stop (1009: a frame too large)', () => {
    expect(decideReconnect({ code: 1009, reason: '' }, 0, backoff)).toEqual({ kind: 'stop' });
  });
});
