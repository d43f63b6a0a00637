import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { issueToken } from '../server/auth/issueToken';
import type { AppRouter } from '../server/index';
import { CloseCode } from '../shared/closeCodes';
import { RawWs } from './support/rawWs';
import { TEST_SECRET } from './support/server';
import { childrenOf, commandLine, isRunning, type Spawned, spawnProcess } from './support/spawned';

/**
 * `npm start` on this checkout (prestart builds dist/ when it is missing or
 * stale), stopped the way an orchestrator or a terminal stops it: a signal to
 * the process npm is, never to a server found some other way. The server must
 * get it, drain (every client closed with 1012) and exit 0, and npm with it.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const DRAIN_SECONDS = 2;

async function startNpm(opts: { detached?: boolean } = {}) {
  const npm = spawnProcess('npm', ['start'], {
    cwd: repoRoot,
    env: { PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, DRAIN_SECONDS: String(DRAIN_SECONDS), LOG_LEVEL: 'warn' },
    detached: opts.detached,
  });
  try {
    const [, wsUrl] = await npm.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    // `exec` in the start script: npm's child is the server itself, no shell between.
    const children = childrenOf(npm.pid);
    expect(children.map(commandLine)).toEqual(['node dist/server/main.js']);
    return { npm, wsUrl: wsUrl!, serverPid: children[0]!, port: Number(new URL(wsUrl!).port) };
  } catch (err) {
    await npm[Symbol.asyncDispose]();
    throw err;
  }
}

/** A tRPC client with a live subscription, a raw tRPC socket and a JSON-dialect socket: each resolves to its close code. */
async function connectClients(wsUrl: string) {
  const token = await issueToken(TEST_SECRET, { sub: 'u1', investigations: ['inv-1'] });
  let trpcClosed!: (code: number | undefined) => void;
  const trpcCode = new Promise<number | undefined>((resolve) => {
    trpcClosed = resolve;
  });
  const wsClient = createWSClient({
    url: wsUrl,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token },
    onClose: (cause) => trpcClosed(cause?.code),
    // No reconnect while the test runs: the first close is the one looked at.
    retryDelayMs: () => 600_000,
  });
  const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
  await new Promise<void>((resolve, reject) => {
    trpc.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, { onStarted: () => resolve(), onError: reject });
  });

  const rpc = await RawWs.open(`${wsUrl}?token=${token}`);
  rpc.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-1' });
  await rpc.response(1);

  const json = await RawWs.open(`${wsUrl}?token=${token}`);
  json.send({ type: 'subscribe', data: { investigation_id: 'inv-1' } });
  await json.until(() => (json.frames as { type?: string }[]).find((frame) => frame.type === 'subscribed'), 'subscribed');

  return {
    closeCodes: () => Promise.all([trpcCode, rpc.closed.then((info) => info.code), json.closed.then((info) => info.code)]),
    async [Symbol.asyncDispose]() {
      wsClient.close();
      await rpc[Symbol.asyncDispose]();
      await json[Symbol.asyncDispose]();
    },
  };
}

/** npm's exit, or a failure after DRAIN_SECONDS + 10 s: a bound on a hang, not a timing assertion. */
async function exitOf(npm: Spawned) {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`npm start still running ${DRAIN_SECONDS + 10} s after the signal:\n${npm.stdout()}\n${npm.stderr()}`)),
      (DRAIN_SECONDS + 10) * 1000,
    );
  });
  try {
    return await Promise.race([npm.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('npm start and stop signals', () => {
  test('SIGTERM to the npm process reaches the server: it drains (every client closed with 1012), exits, and npm exits 0; nothing is left on the port', async () => {
    const { npm, wsUrl, serverPid, port } = await startNpm();
    await using _npm = npm;
    await using clients = await connectClients(wsUrl);

    process.kill(npm.pid, 'SIGTERM');
    expect(await exitOf(npm)).toEqual({ code: 0, signal: null });
    expect(isRunning(serverPid)).toBe(false);
    expect(await clients.closeCodes()).toEqual([CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART]);
    expect(npm.stdout()).toContain('SIGTERM: draining');
    expect(await portRefuses(port)).toBe(true);
  }, 180_000);

  test('Ctrl-C (SIGINT to the whole process group, which npm forwards once more) is one stop: the server drains and npm exits 0', async () => {
    const { npm, wsUrl, serverPid, port } = await startNpm({ detached: true });
    await using _npm = npm;
    await using clients = await connectClients(wsUrl);

    // What a terminal does on Ctrl-C: the signal goes to every process of the foreground group.
    process.kill(-npm.pid, 'SIGINT');
    expect(await exitOf(npm)).toEqual({ code: 0, signal: null });
    expect(isRunning(serverPid)).toBe(false);
    expect(await clients.closeCodes()).toEqual([CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART]);
    expect(npm.stderr()).not.toContain('exiting now');
    expect(await portRefuses(port)).toBe(true);
  }, 180_000);
});
