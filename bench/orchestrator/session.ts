import type { PeerSpec } from '../peers';
import { type GroupPlan, Loadgen } from './loadgen';
import { type ServerHandle, startServer } from './serverProcess';

/** One server process of a peer and the load-generator workers aimed at it. */
export interface Session {
  peer: PeerSpec;
  server: ServerHandle;
  loadgen: Loadgen;
  secret: string;
}

export interface SessionOptions {
  secret: string;
  workers: number;
}

/**
 * Starts a fresh server and fresh workers, runs `fn`, and stops them all
 * however `fn` ends, so nothing of one measurement leaks into the next.
 */
export async function withSession<T>(peer: PeerSpec, opts: SessionOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const [server, loadgen] = await Promise.allSettled([startServer(peer, opts.secret), Loadgen.start(opts.workers)]);
  if (server.status === 'rejected' || loadgen.status === 'rejected') {
    if (server.status === 'fulfilled') await server.value.stop();
    if (loadgen.status === 'fulfilled') await loadgen.value.stop();
    throw server.status === 'rejected' ? server.reason : (loadgen as PromiseRejectedResult).reason;
  }
  const session: Session = { peer, server: server.value, loadgen: loadgen.value, secret: opts.secret };
  try {
    return await fn(session);
  } finally {
    await Promise.all([session.loadgen.stop(), session.server.stop()]);
  }
}

/** The plan every scenario starts from: the peer's client, this server's URL, the shared secret. */
export function planFor(s: Session, plan: Omit<GroupPlan, 'client' | 'wsUrl' | 'secret'>): GroupPlan {
  return { ...plan, client: s.peer.client, wsUrl: s.server.wsUrl, secret: s.secret };
}

/** Opens connections and fails loudly when any did not get subscribed. */
export async function connectOrThrow(s: Session, plan: Omit<GroupPlan, 'client' | 'wsUrl' | 'secret'>, timeoutMs: number) {
  const result = await s.loadgen.connect(planFor(s, plan), timeoutMs);
  if (result.failed > 0) {
    throw new Error(
      `${s.peer.name}: ${result.failed} of ${plan.total} connections failed to subscribe; first: ${result.errors.join(' | ')}`,
    );
  }
  return result;
}
