import { inputBounds } from '../../shared/limits';
import type { PresenceEvent, PresenceMember, RealtimeClientError, RealtimeTRPCClient } from './types';

export type PresenceStatus = 'idle' | 'connecting' | 'live' | 'error';

/**
 * Who is watching an investigation now: at most `inputBounds.presenceListed`
 * members, longest watching first, and `total`, the number of them all.
 * `connecting` until the first `presence_state`; after a reconnect the server
 * sends the state again, which replaces this one.
 */
export interface PresenceState {
  status: PresenceStatus;
  members: readonly PresenceMember[];
  total: number;
  /** What refused or ended the subscription (`status: 'error'`): e.g. FORBIDDEN `not_granted`. */
  error: RealtimeClientError | null;
}

export const initialPresenceState: PresenceState = { status: 'connecting', members: [], total: 0, error: null };
/** Nobody watches it through this client. */
const idlePresenceState: PresenceState = { ...initialPresenceState, status: 'idle' };

function bySince(a: PresenceMember, b: PresenceMember) {
  return a.since.getTime() - b.since.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
}

/** Applies one event of `presence.onChange`: the state replaces, a join upserts, a leave removes. */
export function reducePresence(state: PresenceState, event: PresenceEvent, maxListed = inputBounds.presenceListed): PresenceState {
  switch (event.type) {
    case 'presence_state':
      return { status: 'live', members: event.data.members.slice(0, maxListed), total: event.data.total, error: null };
    case 'presence_join': {
      const { userId, connections, since, total } = event.data;
      const others = state.members.filter((m) => m.userId !== userId);
      const known = others.length < state.members.length;
      const members = known || others.length < maxListed ? [...others, { userId, connections, since }].sort(bySince) : others;
      return { ...state, members, total };
    }
    case 'presence_leave':
      return { ...state, members: state.members.filter((m) => m.userId !== event.data.userId), total: event.data.total };
  }
}

type Listener = (state: PresenceState) => void;

/** One server subscription per investigation, whatever the number of listeners, and its folded state. */
interface Watch {
  state: PresenceState;
  listeners: Set<Listener>;
  stop: () => void;
}

/**
 * The presence of investigations over one client: `watch` shares one
 * `presence.onChange` per investigation between its listeners and ends it
 * with the last one. Reconnects are the link's: tRPC subscribes again and
 * the server starts from the current state.
 */
export class PresenceWatches {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly trpc: RealtimeTRPCClient) {}

  /** The investigation's presence now (`idle` when nobody watches it through this client). */
  state(investigationId: string): PresenceState {
    return this.watches.get(investigationId)?.state ?? idlePresenceState;
  }

  /** Calls `listener` with each new state of the investigation's presence; returns the function that stops it. */
  watch(investigationId: string, listener: Listener): () => void {
    let watch = this.watches.get(investigationId);
    if (!watch) {
      const created: Watch = { state: initialPresenceState, listeners: new Set(), stop: () => undefined };
      const set = (state: PresenceState) => {
        created.state = state;
        for (const l of [...created.listeners]) l(state);
      };
      const subscription = this.trpc.presence.onChange.subscribe(
        { investigationId },
        {
          onData: (event) => set(reducePresence(created.state, event)),
          onError: (error) => set({ ...created.state, status: 'error', error }),
        },
      );
      created.stop = () => subscription.unsubscribe();
      this.watches.set(investigationId, created);
      watch = created;
    }
    const current = watch;
    current.listeners.add(listener);
    return () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
      if (this.watches.get(investigationId) === current) this.watches.delete(investigationId);
      current.stop();
    };
  }

  /** Investigations watched (one server subscription each). */
  get size(): number {
    return this.watches.size;
  }
}
