import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The dashboard built from the current source for this run (`inject('dashboardDir')`). */
    dashboardDir: string;
  }
}

/**
 * Builds the dashboard once per test run, into a folder of its own (other runs
 * may be going on in the same tree; dist/dashboard may be stale), for
 * the end-to-end tests and the serving tests. A build error fails the run
 * before any test starts.
 */
export default async function setup(project: TestProject) {
  const { build } = await import('vite');
  const dir = await mkdtemp(join(tmpdir(), 'realtime-dashboard-'));
  try {
    await build({
      configFile: fileURLToPath(new URL('../../client/dashboard/vite.config.ts', import.meta.url)),
      logLevel: 'warn',
      build: { outDir: dir, emptyOutDir: true, sourcemap: false },
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`building the dashboard failed (test/support/globalSetup.ts): ${(err as Error).message}`, { cause: err });
  }
  project.provide('dashboardDir', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
