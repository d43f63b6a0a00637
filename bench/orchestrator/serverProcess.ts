import { ChildChannel } from '../ipc';
import type { PeerSpec } from '../peers';
import type { ServerCommands, ServerEvent } from '../servers/protocol';
import { forkChild, stopChild } from './children';
import { cpuUsOf, PeakRss, rssOf } from './procStats';

export interface ServerHandle {
  peer: PeerSpec;
  channel: ChildChannel<ServerCommands, ServerEvent>;
  wsUrl: string;
  /** The process's CPU time so far (µs), read from /proc. */
  cpuUs(): number;
  rss(): number;
  peakRss: Pick<PeakRss, 'read' | 'reset' | 'stop'>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/** Starts a peer's server process and waits until it listens. */
export async function startServer(peer: PeerSpec, secret: string, extraEnv: Record<string, string> = {}): Promise<ServerHandle> {
  const proc = forkChild(peer.server, { ...peer.env, ...extraEnv, BENCH_JWT_SECRET: secret });
  const channel = new ChildChannel<ServerCommands, ServerEvent>(`server ${peer.name}`, proc);
  try {
    const ready = await channel.waitForEvent((e): e is ServerEvent => e.event === 'ready', 'ready message', START_TIMEOUT_MS);
    const pid = proc.pid!;
    const peakRss = new PeakRss(pid);
    return {
      peer,
      channel,
      wsUrl: ready.wsUrl,
      cpuUs: () => cpuUsOf(pid),
      rss: () => rssOf(pid),
      peakRss,
      stop: async () => {
        peakRss.stop();
        await stopChild(proc);
      },
    };
  } catch (err) {
    await stopChild(proc, 0);
    throw err;
  }
}
