import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface StartedProcess {
  child: ChildProcess;
  /** Everything printed so far on stdout. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Runs `server/main.ts` as its own process, the way `npm start` does (`node
 * --import tsx`: one process, so its pid is the server's and a signal reaches
 * the server itself). Disposable: stopped with SIGTERM, then SIGKILL if it
 * lingers.
 */
export function startMain(env: Record<string, string | undefined>): StartedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(pattern) {
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before printing ${pattern}:\n${out}\n${err}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited]);
      }
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
