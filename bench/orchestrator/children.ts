import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Every process the benchmark starts goes through here, so that all of them
 * are killed when the orchestrator exits, fails or is interrupted: a run never
 * leaves a server or a load generator behind.
 */
const alive = new Set<ChildProcess>();
const benchDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * BENCH_CPU_PROF=<dir>: every server process writes a V8 CPU profile there
 * when it exits (`--cpu-prof`), to see where a scenario's server time goes.
 */
const profileDir = process.env.BENCH_CPU_PROF;

export function forkChild(entry: string, env: Record<string, string> = {}): ChildProcess {
  const profile = profileDir && entry.includes('servers/') ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = fork(entry.startsWith('/') ? entry : `${benchDir}${entry}`, [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...profile],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  return child;
}

/** Asks politely, then SIGKILL after `graceMs`. Resolves once it is gone. */
export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected)
      child.disconnect(); // children exit on disconnect
    else child.kill('SIGTERM');
  });
}

export function killAllChildren(): void {
  for (const child of alive) child.kill('SIGKILL');
  alive.clear();
}

let installed = false;

/** Kills every child on exit, Ctrl-C, SIGTERM and crashes of the orchestrator. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping every benchmark process`);
      killAllChildren();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('benchmark crashed:', err);
    killAllChildren();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('benchmark crashed (unhandled rejection):', err);
    killAllChildren();
    process.exit(1);
  });
}
