import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time and RSS of a child read from /proc (Linux), from outside the
 * process: a server whose event loop is swamped still gets measured, and the
 * reading does not depend on it answering.
 */
function getconf(name: string, fallback: number): number {
  try {
    return Number(execSync(`getconf ${name}`, { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}

const CLOCK_TICKS = getconf('CLK_TCK', 100);
const PAGE_SIZE = getconf('PAGESIZE', 4096);

/** User + system CPU time of `pid`, in µs (resolution: one clock tick, 10 ms). */
export function cpuUsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
}

export function rssOf(pid: number): number {
  const statm = readFileSync(`/proc/${pid}/statm`, 'utf8');
  return Number(statm.split(' ')[1]) * PAGE_SIZE;
}

/** Samples a process's RSS every 100 ms and keeps the highest since the last reset. */
export class PeakRss {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  private sample(): number {
    try {
      const rss = rssOf(this.pid);
      if (rss > this.peak) this.peak = rss;
      return rss;
    } catch {
      return 0; // the process is gone
    }
  }

  /** Highest RSS since the last reset (including now). */
  read(): number {
    this.sample();
    return this.peak;
  }

  reset(): void {
    this.peak = 0;
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
