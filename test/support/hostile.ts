import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RawWs } from './rawWs';

/**
 * Helpers of the hostile-client suites (test/hostile/): what a server process
 * spent, what its metrics say, and floods that stop by count or time, never
 * by the server's good will.
 */

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The sum of a Prometheus metric's samples (every label set) on a server's /metrics. */
export async function metricValue(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface FloodOptions {
  /** Frames to send at most. */
  maxFrames: number;
  /** Stops once this is past (ms, Date.now()). */
  until: number;
  /** Bytes the client's own socket may have queued before the flood waits (the server pushing back). */
  maxQueuedBytes?: number;
  /** Stops once this says so (checked between frames: keep it cheap). */
  stop?: () => boolean;
}

/**
 * Sends `frame(i)` as fast as the client's socket takes it, until `maxFrames`
 * were sent, `until` passed, `stop()` said so, or the connection closed;
 * resolves to the count sent. A frame is a string (text) or a Buffer (binary). Waits (a turn at a
 * time) whenever the socket holds more than `maxQueuedBytes`, so the client's
 * memory stays bounded while the server does not read.
 */
export async function flood(raw: RawWs, frame: (i: number) => string | Buffer, opts: FloodOptions): Promise<number> {
  const maxQueued = opts.maxQueuedBytes ?? 1024 * 1024;
  let sent = 0;
  while (sent < opts.maxFrames && Date.now() < opts.until && raw.isOpen && !opts.stop?.()) {
    if (raw.socket.writableLength > maxQueued) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const data = frame(sent);
    raw.ws.send(data, { binary: typeof data !== 'string' });
    sent++;
    if (sent % 256 === 0) await nextTurn();
  }
  return sent;
}

/** p50, p95 and max of a list of numbers (ms), rounded, for the closing note. */
export function summary(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms (n=${values.length})`;
}
