import type { PeerSpec } from '../peers';
import { Loadgen } from './loadgen';
import { type ServerHandle, startServer } from './serverProcess';
import type { Session, SessionOptions } from './session';

/** A session over several server processes of one deployment; `server` is node A with figures summed over `nodes`. */
export interface NodesSession extends Session {
  nodes: ServerHandle[];
}

/**
 * Like withSession, with `count` server processes of the peer (the same
 * environment: one deployment) and one worker group. The session's `server`
 * is node A for IPC (publishing happens there) while its CPU time and RSS
 * are the sums over every node, read from /proc of each pid, so
 * measuredRun's CPU per message is the deployment's.
 */
export async function withNodes<T>(count: number, peer: PeerSpec, opts: SessionOptions, fn: (s: NodesSession) => Promise<T>): Promise<T> {
  const started = await Promise.allSettled([
    Loadgen.start(opts.workers),
    ...Array.from({ length: count }, () => startServer(peer, opts.secret)),
  ]);
  const [loadgen, ...servers] = started;
  const nodes = servers.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = () => Promise.all([loadgen?.status === 'fulfilled' ? loadgen.value.stop() : undefined, ...nodes.map((n) => n.stop())]);
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure || loadgen?.status !== 'fulfilled') {
    await stopAll();
    throw failure?.reason ?? new Error('no load generator');
  }
  const sum = (read: (n: ServerHandle) => number) => nodes.reduce((a, n) => a + read(n), 0);
  const a = nodes[0]!;
  const server: ServerHandle = {
    ...a,
    cpuUs: () => sum((n) => n.cpuUs()),
    rss: () => sum((n) => n.rss()),
    peakRss: {
      read: () => sum((n) => n.peakRss.read()),
      reset: () => {
        for (const n of nodes) n.peakRss.reset();
      },
      stop: () => {
        for (const n of nodes) n.peakRss.stop();
      },
    },
  };
  try {
    return await fn({ peer, server, loadgen: loadgen.value, secret: opts.secret, nodes });
  } finally {
    await stopAll();
  }
}
