import type { Clock, ClockTimer } from '../../server/clock';

interface Pending {
  at: number;
  fn: () => void;
}

/**
 * A clock that stands still until a test moves it: `advance(ms)` runs, in
 * order, every timer that falls due. It starts at the real time, so tokens
 * issued now are valid now.
 */
export class ManualClock implements Clock {
  private current = Date.now();
  private readonly pending = new Set<Pending>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const timer: Pending = { at: this.current + Math.max(ms, 0), fn };
    this.pending.add(timer);
    return timer as ClockTimer;
  }

  clearTimeout(timer: ClockTimer): void {
    this.pending.delete(timer as Pending);
  }

  /** Timers armed and not yet fired or cleared (a closed connection leaves none). */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves the time forward and fires what fell due, earliest first. */
  advance(ms: number): void {
    this.current += ms;
    const due = [...this.pending].filter((t) => t.at <= this.current).sort((a, b) => a.at - b.at);
    for (const timer of due) {
      if (!this.pending.delete(timer)) continue;
      timer.fn();
    }
  }
}
