import type { ConnectionRegistry } from './connectionRegistry';

export interface KeepAliveOptions {
  pingIntervalMs: number;
  peerTimeoutMs: number;
}

/**
 * One timer for all connections: every interval, each connection gets a
 * protocol-level ping (every WebSocket client answers those by itself), and one
 * that has sent nothing, not even a pong, for longer than the timeout is
 * terminated; its close event cleans it up (see `Connection.keepAlive`).
 */
export function startKeepAlive(registry: ConnectionRegistry, opts: KeepAliveOptions): () => void {
  const tick = () => {
    // The time base of `Connection.lastSeen`.
    const silentSince = performance.now() - opts.peerTimeoutMs;
    for (const conn of registry.connections.values()) conn.keepAlive(silentSince);
  };
  const timer = setInterval(tick, Math.min(opts.pingIntervalMs, opts.peerTimeoutMs));
  timer.unref();
  return () => clearInterval(timer);
}
