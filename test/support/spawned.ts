import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Any command run as a child process (`npm start`, `npm ci`, `npm run -s token`),
 * with its output kept, for the tests of what npm runs. Disposable: stops it and
 * every process it started (SIGTERM, then SIGKILL), so a failed test leaves no
 * server behind.
 */
export interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches; rejects if the process exits first. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface SpawnOptions {
  cwd: string;
  /** The whole environment, besides PATH and HOME (npm's own variables are not passed on). */
  env?: Record<string, string | undefined>;
  /** In a process group of its own, as a shell runs a foreground job (for a Ctrl-C to the group). */
  detached?: boolean;
}

export function spawnProcess(command: string, args: string[], opts: SpawnOptions): Spawned {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const spawned = once(child, 'spawn');
  spawned.catch(() => undefined);
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  // A command that cannot be started rejects `exited` through `once` (its 'error' event).
  exited.catch(() => undefined);
  const pid = child.pid ?? -1;
  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(pattern) {
      await spawned;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `${command} ${args.join(' ')} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${out}\n${err}`,
          );
        }
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]);
      }
    },
    async [Symbol.asyncDispose]() {
      const left = descendants(pid);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited.catch(() => undefined);
        clearTimeout(timer);
      }
      for (const descendant of left) if (isRunning(descendant)) process.kill(descendant, 'SIGKILL');
    },
  };
}

/** Runs a command to its end; rejects with its output when it fails. */
export async function run(command: string, args: string[], opts: SpawnOptions): Promise<{ stdout: string; stderr: string }> {
  await using proc = spawnProcess(command, args, opts);
  const { code, signal } = await proc.exited;
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${code ?? signal}) in ${opts.cwd}:\n${proc.stdout()}\n${proc.stderr()}`);
  }
  return { stdout: proc.stdout(), stderr: proc.stderr() };
}

/** The processes `pid` started (Linux: /proc/<pid>/task/<tid>/children), and theirs. */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function descendants(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendants(child)]);
}

/** The command line of a process, its arguments joined by spaces; '' once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Whether a process exists (and is not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}
