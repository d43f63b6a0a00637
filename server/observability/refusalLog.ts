import type { Logger } from './logger';

/** At most one line per reason this often (ms). */
const EVERY_MS = 1_000;

/**
 * One info line per reason and second for refusals that come in floods (a
 * connect storm refused at the upgrade): the first one at once, then the
 * count since the last line. A flood of refusals costs an operator a line a
 * second, not a line a refusal. Bounded: one entry per reason, and reasons
 * are a fixed set.
 */
export function createRefusalLog(logger: Logger, event: string) {
  const last = new Map<string, { at: number; unlogged: number }>();
  return function refused(reason: string) {
    const now = Date.now();
    const entry = last.get(reason);
    if (entry && now - entry.at < EVERY_MS) {
      entry.unlogged++;
      return;
    }
    logger.info({ event, reason, refusedSinceLastLine: entry?.unlogged ?? 0 });
    last.set(reason, { at: now, unlogged: 0 });
  };
}
