import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { type FoldedTopic, type FoldSpec, initialSnapshot, type SubscriptionStatus } from '../sdk/topicFold';
import { type RealtimeError, toRealtimeError } from './realtimeError';

/** What every topic hook returns about its subscription. */
export interface StreamControls {
  /** `idle` without an id, `subscribing`, `live` (also across reconnects), `error` (see `subscriptionError`). */
  subscription: SubscriptionStatus;
  /** Why the server refused the subscription (e.g. FORBIDDEN / not_granted). */
  subscriptionError: RealtimeError | null;
  /** Drops the state and folds again what the server retains: the answer to `resyncRequired`. */
  resync: () => void;
}

const readNothing = () => () => undefined;

/**
 * Reads a topic's folded state from the SDK: one state and one server
 * subscription per topic per client, however many components read it; the
 * state is dropped when the last of them unmounts. `folded` null: idle.
 */
export function useTopicFold<E, S>(folded: FoldedTopic<S> | null, spec: FoldSpec<E, S>): [S, StreamControls] {
  const idle = initialSnapshot(spec);
  const getSnapshot = folded ? folded.getSnapshot : () => idle;
  const snapshot = useSyncExternalStore(folded ? folded.subscribe : readNothing, getSnapshot, getSnapshot);
  const subscriptionError = useMemo(() => (snapshot.error ? toRealtimeError(snapshot.error) : null), [snapshot.error]);
  const resync = useCallback(() => folded?.resync(), [folded]);
  return [snapshot.state, { subscription: folded ? snapshot.status : 'idle', subscriptionError, resync }];
}
