import { fileURLToPath } from 'node:url';
import { type Spawned, spawnProcess } from './spawned';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `server/main.ts` from source as its own process (`node --import tsx`,
 * what `npm run dev` runs; `npm start` runs the same file bundled): one
 * process, so its pid is the server's and a signal reaches the server itself.
 * Disposable: stopped with SIGTERM, then SIGKILL if it lingers.
 */
export function startMain(env: Record<string, string | undefined>): Spawned {
  return spawnProcess(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: { LOG_LEVEL: 'warn', ...env },
  });
}
