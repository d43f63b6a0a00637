/**
 * Waits for `work` to settle, or for `ms`, whichever comes first; never
 * rejects. For shutdown steps that need Redis: a node must stop even when
 * Redis hangs.
 */
export function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    work.then(done, done);
  });
}
