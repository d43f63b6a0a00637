import { useCallback, useSyncExternalStore } from 'react';
import { initialPresenceState, type PresenceState } from '../sdk/presenceState';
import { useRealtimeClient } from './provider';

const idle: PresenceState = { ...initialPresenceState, status: 'idle' };

/**
 * Who else is watching the investigation, live, across every node: members
 * (user id, connections, since; longest watching first, at most
 * `inputBounds.presenceListed`) and `total`. One server subscription per
 * investigation per client, however many components read it. Pass null to
 * subscribe to nothing (`status: 'idle'`).
 */
export function usePresence(investigationId: string | null): PresenceState {
  const client = useRealtimeClient();
  const subscribe = useCallback(
    (onChange: () => void) => (investigationId === null ? () => undefined : client.presence.watch(investigationId, onChange)),
    [client, investigationId],
  );
  const read = () => (investigationId === null ? idle : client.presence.state(investigationId));
  return useSyncExternalStore(subscribe, read, read);
}
