import { readFileSync } from 'node:fs';
import { startMain } from './process';
import { TEST_SECRET } from './server';
import type { Spawned } from './spawned';

/**
 * A server node run as its own process (`server/main.ts`, what `npm start`
 * runs), for faults a process in the test's own cannot have: SIGKILL, and its
 * memory measured apart from the test's.
 */
export interface NodeProcess {
  proc: Spawned;
  wsUrl: string;
  httpUrl: string;
  /** The pid of the server process. */
  serverPid: number;
  /** SIGKILLs the server process itself (no shutdown, no flush) and waits until it is gone. */
  kill(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Starts a node and waits until it listens; its URLs are read from what it prints. */
export async function startNodeProcess(env: Record<string, string | undefined>): Promise<NodeProcess> {
  const proc = startMain(env);
  try {
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const httpUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');
    const serverPid = proc.child.pid!;
    return {
      proc,
      wsUrl: wsUrl!,
      httpUrl,
      serverPid,
      async kill() {
        process.kill(serverPid, 'SIGKILL');
        await proc.exited;
      },
      async [Symbol.asyncDispose]() {
        await proc[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    await proc[Symbol.asyncDispose]();
    throw err;
  }
}

/** The outcome of one call over HTTP: its status, and the id it returned or the reason it was refused with. */
export interface HttpOutcome {
  status: number;
  id?: string;
  ids?: string[];
  reason?: string | null;
  code?: string;
}

/**
 * One tRPC mutation over plain HTTP, as a backend in another language would
 * call it (plain JSON input, Bearer token). Never throws for an HTTP error:
 * the test looks at the status and reason.
 */
export async function postMutation(httpUrl: string, token: string, procedure: string, input: unknown): Promise<HttpOutcome> {
  const res = await fetch(`${httpUrl}/api/v1/trpc/${procedure}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const text = await res.text();
  let body: { result?: { data?: { json?: unknown } & Record<string, unknown> }; error?: { json?: unknown } & Record<string, unknown> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { status: res.status, reason: `not JSON: ${text.slice(0, 200)}` };
  }
  if (body.result) {
    const data = (body.result.data?.json ?? body.result.data) as { id?: string; ids?: string[] } | undefined;
    return { status: res.status, id: data?.id, ids: data?.ids };
  }
  const error = (body.error?.json ?? body.error) as { data?: { code?: string; reason?: string | null } } | undefined;
  return { status: res.status, reason: error?.data?.reason ?? null, code: error?.data?.code };
}

/**
 * A node on an ephemeral loopback port with the tests' secret and quiet logs,
 * as the hostile suites start them; `env` adds or overrides settings.
 */
export function startTestNode(env: Record<string, string | undefined> = {}): Promise<NodeProcess> {
  return startNodeProcess({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'error', ...env });
}
