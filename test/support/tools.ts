import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A service or tool the suites need is missing: under CI=true that fails the
 * run (CI must always run them); elsewhere the suites are skipped with a
 * notice nobody can miss, saying how to get it.
 */
export function missingForTests(message: string, install: string): void {
  if (process.env.CI === 'true') throw new Error(`${message} Under CI=true that is a failure (.ci/run must provide it).`);
  process.stderr.write(`\n${'!'.repeat(78)}\n!! SKIPPED: ${message}\n!! ${install}\n${'!'.repeat(78)}\n\n`);
}

/**
 * Whether an executable the deploy suites run (nginx, prometheus, promtool) is
 * installed. Missing, the suites are skipped with a loud notice, and under
 * CI=true that is a failure, as for Redis (redis.ts) and Chromium (browser.ts).
 */
export function requireExecutables(suite: string, executables: readonly string[], install: string): boolean {
  const missing = executables.filter((path) => {
    try {
      accessSync(path, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  missingForTests(
    `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed: the ${suite} tests cannot run.`,
    `Install with: ${install}`,
  );
  return false;
}

/** A TCP port free on the loopback right now (the OS picks it); the caller binds it next. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
