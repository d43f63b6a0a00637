/**
 * Waiting for a condition, never for a duration. Every wait has the same
 * overall bound: generous enough for a loaded machine, yet short enough to
 * fail with a message naming what was awaited before vitest's own timeout.
 */
export const WAIT_MS = 15_000;

/**
 * Polls `read()` until `predicate` holds for its value, and returns that
 * value; fails after the bound, showing the last value seen. For state that
 * announces no change, such as the server's `stats()` or an HTTP endpoint.
 */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  predicate: (value: T) => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Waits on state that announces its changes (a subscription's items, a
 * socket's frames): the owner calls `changed()` after each change, and every
 * pending `until` re-runs its check then.
 */
export class Changes {
  private readonly checks = new Set<() => void>();

  changed(): void {
    for (const check of [...this.checks]) check();
  }

  /**
   * Resolves with `check()`'s first value other than undefined; rejects with
   * what `check()` throws, or after the bound with `report()`'s account of
   * what was seen so far.
   */
  until<T>(check: () => T | undefined, report: () => string, timeoutMs = WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        try {
          const value = check();
          if (value === undefined) return;
          done();
          resolve(value);
        } catch (err) {
          done();
          reject(err);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(report()));
      }, timeoutMs);
      // A wait nobody awaits any more (a subscription that never started) must not keep the worker alive.
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.checks.delete(run);
      };
      this.checks.add(run);
      run();
    });
  }
}
