import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A pino logger whose JSON lines a test reads back, by event name. */
export function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines, events: (name: string) => lines.filter((l) => l.event === name) };
}
