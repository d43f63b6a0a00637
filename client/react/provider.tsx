import { createContext, type ReactNode, useContext, useSyncExternalStore } from 'react';
import type { ConnectionState, RealtimeClient } from '../index';

const RealtimeContext = createContext<RealtimeClient | null>(null);

/**
 * Makes one realtime client available to the hooks below it. The app creates
 * the client (`createRealtimeClient`) and closes it; the provider never does,
 * so a client may outlive a remount. Give a new `client` to switch users.
 */
export function RealtimeProvider({ client, children }: { client: RealtimeClient; children?: ReactNode }) {
  return <RealtimeContext.Provider value={client}>{children}</RealtimeContext.Provider>;
}

/** The client of the nearest RealtimeProvider. */
export function useRealtimeClient(): RealtimeClient {
  const client = useContext(RealtimeContext);
  if (!client) throw new Error('useRealtimeClient: no <RealtimeProvider client={...}> above this component');
  return client;
}

/**
 * The connection's state, re-rendering on every change: `connecting`, `open`,
 * `reconnecting` (with `attempt`, `nextDelayMs` and the close `code`), `closed`.
 */
export function useConnectionState(): ConnectionState {
  const client = useRealtimeClient();
  return useSyncExternalStore(
    (onChange) => client.onStateChange(onChange),
    () => client.state,
    () => client.state,
  );
}
