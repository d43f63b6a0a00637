import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { issueToken } from '../server/index';
import { startServer } from './support/server';
import { type Spawned, spawnProcess } from './support/spawned';
import { freePort } from './support/tools';

/**
 * `client/examples/subscribe.ts`, run as a newcomer runs it (README, "Run it"):
 * its own process, against a real server. Every wait is for output or an exit,
 * never for a duration; a process that hangs fails by vitest's timeout.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** Spawning tsx costs a few seconds on a loaded machine; nothing here measures time. */
const generous = { timeout: 60_000 };

/** The example as its own process, from source with tsx; disposable. */
function runExample(args: string[], env: Record<string, string> = {}): Spawned {
  return spawnProcess(process.execPath, ['--import', 'tsx', 'client/examples/subscribe.ts', ...args], { cwd: repoRoot, env });
}

/** Runs the example to its end: its exit code and what it printed. */
async function runToExit(args: string[], env: Record<string, string> = {}) {
  await using example = runExample(args, env);
  const { code } = await example.exited;
  return { code, stdout: example.stdout(), stderr: example.stderr() };
}

describe('client/examples/subscribe.ts against a running server', () => {
  test('prints the events published to the investigation, and stops on Ctrl-C with 0', generous, async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana', investigations: ['inv-1'] });
    await using example = runExample([token, 'inv-1', srv.address.wsUrl]);
    await example.waitForOutput(/^subscribed to investigation inv-1$/m);

    const { id } = await srv.server.notifyInvestigationUpdate({
      investigationId: 'inv-1',
      updateType: 'progress',
      data: { progress: 40, stage: 'fetching contracts' },
    });
    const [line] = await example.waitForOutput(new RegExp(`^\\{"id":"${id}".*$`, 'm'));
    expect(JSON.parse(line)).toMatchObject({
      id,
      type: 'investigation_update',
      data: { investigationId: 'inv-1', updateType: 'progress', progress: 40, stage: 'fetching contracts' },
    });
    await example.waitForOutput(/state: no status, 40%, 0 anomalies/);

    example.child.kill('SIGINT');
    expect((await example.exited).code).toBe(0);
  });

  test(`takes the URL from REALTIME_URL when no argument names one`, generous, async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana', investigations: ['inv-1'] });
    await using example = runExample([token], { REALTIME_URL: srv.address.wsUrl });
    await example.waitForOutput(/^subscribed to investigation inv-1$/m);
    expect(example.stderr()).toContain(`connecting to ${srv.address.wsUrl}`);
  });

  test('a refused token (close 4001): one line saying so, exit 1', generous, async () => {
    await using srv = await startServer();
    const foreign = await issueToken('another-secret-that-is-at-least-32-characters', { sub: 'ana' }, { expiresInSeconds: 600 });
    for (const token of [foreign, 'not-a-token']) {
      const run = await runToExit([token, 'inv-1', srv.address.wsUrl]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`${srv.address.wsUrl} refused the token (close 4001, token_invalid)`);
    }
  });

  test('an investigation the token does not grant: the refusal, exit 1', generous, async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana', investigations: ['inv-1'] });
    const run = await runToExit([token, 'inv-2', srv.address.wsUrl]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('the server refused the subscription to investigation inv-2 (FORBIDDEN, not_granted)');
  });

  test('a wrong path: the HTTP status the server answered, exit 1', generous, async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana', investigations: ['inv-1'] });
    const url = `${srv.address.wsUrl.replace('/api/v1/ws', '')}/wrong`;
    const run = await runToExit([token, 'inv-1', url]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`cannot connect to ${url}: the server answered HTTP 404`);
  });
});

describe('client/examples/subscribe.ts without a server', () => {
  test('a closed port: one clear line and exit 1, instead of retrying forever', generous, async () => {
    const url = `ws://127.0.0.1:${await freePort()}/api/v1/ws`;
    const run = await runToExit(['any-token', 'inv-1', url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot connect to ${url}: connection refused — is the server running? (npm start)`);
    expect(run.stdout).toBe('');
  });

  test('the same through REALTIME_URL', generous, async () => {
    const url = `ws://127.0.0.1:${await freePort()}/api/v1/ws`;
    const run = await runToExit(['any-token'], { REALTIME_URL: url });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot connect to ${url}: connection refused`);
  });

  test('--help names the arguments, REALTIME_URL and the default URL; a missing token is a usage error (2)', generous, async () => {
    const help = await runToExit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('<token> [investigationId] [url]');
    expect(help.stdout).toContain('$REALTIME_URL');
    expect(help.stdout).toContain('ws://localhost:8000/api/v1/ws');

    const missing = await runToExit([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('a token is required');

    const notWs = await runToExit(['any-token', 'inv-1', 'http://127.0.0.1:8000/api/v1/trpc']);
    expect(notWs.code).toBe(2);
    expect(notWs.stderr).toContain('not a ws:// or wss:// URL');
  });
});
