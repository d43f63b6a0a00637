/**
 * Attempts per key over the last minute, as a sliding window approximated by
 * two fixed ones: the count of the current minute plus the previous minute's,
 * weighted by how much of it the sliding window still covers. That is one
 * number per key and minute, not one timestamp per attempt, and it does not
 * let a client spend its budget twice around a minute boundary as a plain
 * fixed window would.
 *
 * The minutes are the clock's (aligned to multiples of `windowMs`), so expiry
 * needs no per-key timer and no sweep: when a minute ends its map becomes the
 * previous one, and the one before is dropped whole.
 */
export function createAttemptCounter(windowMs: number, now: () => number) {
  let window = Math.floor(now() / windowMs);
  let current = new Map<string, number>();
  let previous = new Map<string, number>();

  function rotate() {
    const at = Math.floor(now() / windowMs);
    if (at === window) return;
    // New maps rather than clear(): the old ones may have grown large during a flood.
    previous = at === window + 1 ? current : new Map();
    current = new Map();
    window = at;
  }

  return {
    /** Counts one attempt for `key`; returns the attempts in the last window, this one included. */
    hit(key: string): number {
      rotate();
      const count = (current.get(key) ?? 0) + 1;
      current.set(key, count);
      const carried = previous.get(key);
      if (carried === undefined) return count;
      const covered = 1 - (now() - window * windowMs) / windowMs;
      return count + carried * covered;
    },
    /** Drops the minutes that have ended; `hit` does it too, this is for an idle server. */
    rotate,
    /** Keys held (in either minute). */
    keys(): number {
      rotate();
      let keys = current.size;
      for (const key of previous.keys()) if (!current.has(key)) keys++;
      return keys;
    },
    clear() {
      current = new Map();
      previous = new Map();
    },
  };
}
