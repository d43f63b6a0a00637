import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { spawnProcess } from './spawned';
import { freePort, requireExecutables } from './tools';
import { WAIT_MS } from './wait';

/** Debian's nginx (apt-get install nginx); NGINX_PATH to use another. */
const NGINX_PATH = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const DEPLOY_CONF = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));

const nginxAvailable = requireExecutables('nginx load-balancer', [NGINX_PATH], 'apt-get update && apt-get install -y nginx');

/** `describe` when nginx is installed, a loud skip when it is not (and a failure under CI). */
export const describeWithNginx = describe.skipIf(!nginxAvailable);

/** Replaces `from` (which must occur exactly once) with `to`: a change to deploy/nginx.conf that the test no longer matches fails loudly. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + from.length) >= 0) throw new Error(`deploy/nginx.conf: expected "${from}" exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/**
 * deploy/nginx.conf as a test runs it: listening on `port` of the loopback,
 * balancing over `upstreams` (host:port) instead of node-a and node-b, one
 * worker, and every path nginx writes inside `dir` (its error log goes to
 * stderr already; the access log to `dir`/access.log).
 */
function nginxConfigForTest(conf: string, opts: { port: number; upstreams: readonly [string, string]; dir: string }): string {
  let text = replaceOnce(conf, 'listen 8080;', `listen 127.0.0.1:${opts.port};`);
  text = replaceOnce(text, 'server node-a:8000 ', `server ${opts.upstreams[0]} `);
  text = replaceOnce(text, 'server node-b:8000 ', `server ${opts.upstreams[1]} `);
  text = replaceOnce(text, 'worker_processes auto;', 'worker_processes 1;');
  // A socket (Node's stdio pipe) cannot be opened as /dev/stdout: the access log goes to a file.
  text = replaceOnce(text, 'access_log /dev/stdout ', `access_log ${join(opts.dir, 'access.log')} `);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(opts.dir, kind)};`);
  return replaceOnce(text, 'http {\n', `http {\n${temp.join('\n')}\n`);
}

export interface StartedNginx {
  port: number;
  /** http://127.0.0.1:<port> */
  httpUrl: string;
  /** ws://127.0.0.1:<port>/api/v1/ws */
  wsUrl: string;
  /** The access log so far. */
  accessLog(): Promise<string>;
  /** The error log (nginx's stderr) so far. */
  stderr(): string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * An nginx of the test's own running deploy/nginx.conf in front of two
 * upstreams, on a free loopback port, in the foreground, with its config,
 * pid and temp files in a temporary folder: it never touches system paths or
 * port 80. Disposable: stopped (SIGTERM, then SIGKILL) and the folder removed.
 */
export async function startNginx(upstreams: readonly [string, string]): Promise<StartedNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'realtime-nginx-'));
  const conf = join(dir, 'nginx.conf');
  let port: number;
  try {
    // Run as root, nginx's workers run as nobody: they must reach the temp folders nginx makes in here.
    await chmod(dir, 0o755);
    port = await freePort();
    await writeFile(conf, nginxConfigForTest(await readFile(DEPLOY_CONF, 'utf8'), { port, upstreams, dir }));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const nginx = spawnProcess(NGINX_PATH, ['-p', dir, '-c', conf, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
    cwd: dir,
  });
  const { child } = nginx;
  const dispose = async () => {
    await nginx[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + WAIT_MS;
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}) before listening:\n${nginx.stderr()}`);
      if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}:\n${nginx.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/api/v1/ws`,
    accessLog: () => readFile(join(dir, 'access.log'), 'utf8').catch(() => ''),
    stderr: nginx.stderr,
    [Symbol.asyncDispose]: dispose,
  };
}

/** Whether something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
