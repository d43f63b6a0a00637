import type { Loadgen } from './loadgen';
import type { ServerHandle } from './serverProcess';

/**
 * Credit-based flow control for "maximum rate" runs: the server may publish
 * up to seq `min + window`, where `min` is the lowest seq that every client has
 * received (the workers report it every 50 ms). No peer can then queue more
 * than `window` events per connection, so raw ws and Socket.IO (which would
 * otherwise buffer without bound) are measured at the rate they deliver, not
 * the rate they accept.
 */
export function startFlowControl(server: ServerHandle, loadgen: Loadgen, window: number, seqBase: number) {
  const mins = loadgen.workers.map(() => seqBase);
  let allowed = seqBase + window;
  const off = loadgen.onProgress((e) => {
    mins[e.worker] = e.minSeq;
    const min = Math.min(...mins);
    if (min + window > allowed) {
      allowed = min + window;
      server.channel.notify('allow', { upTo: allowed });
    }
  });
  return { initial: allowed, stop: off };
}
