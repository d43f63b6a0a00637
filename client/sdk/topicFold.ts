import { callListener } from './connectionState';
import type { Membership } from './sharedTopic';
import type { TopicObserver, Unsubscribe } from './topicRegistry';
import type { RealtimeClientError } from './types';

/**
 * `idle`: nothing to subscribe to (a hook given no id); `subscribing` until
 * the server confirmed; `live` after (also across reconnects, which resume
 * from the last event id); `error` when the server refused or ended it.
 */
export type SubscriptionStatus = 'idle' | 'subscribing' | 'live' | 'error';

/** How a topic's events fold into one state: a pure reducer and where it starts. */
export interface FoldSpec<E, S> {
  /** One state per topic and name in a client: every reader of that pair shares it. */
  readonly name: string;
  readonly initial: S;
  /** Returns `state` itself for an event that changes nothing (an id already applied): readers are then not told. */
  readonly reduce: (state: S, event: E) => S;
  /**
   * `retained`: the state starts from everything the server still keeps of
   * the topic (`lastEventId` `0-0`), so a page opened mid-investigation shows
   * all of it. Without it, from what the subscription delivers from then on
   * (for notifications: those not delivered to this user yet).
   */
  readonly replay?: 'retained';
}

/** A folded state as readers see it; a new object on each change (a snapshot for React's useSyncExternalStore). */
export interface FoldSnapshot<S> {
  readonly state: S;
  readonly status: Exclude<SubscriptionStatus, 'idle'>;
  /** Why the server refused or ended the subscription (`error.data?.code`, `error.data?.reason`). */
  readonly error: RealtimeClientError | null;
}

/** A handle on the folded state of one topic; cheap, and every handle of a topic and spec reads the same state. */
export interface FoldedTopic<S> {
  /**
   * Starts reading: the first reader creates the state (and joins the topic's
   * subscription), the last one to leave drops it. `onChange` is called after
   * each change of the snapshot.
   */
  subscribe(onChange: () => void): Unsubscribe;
  /** The state now; the initial one, `subscribing`, while nobody reads it. */
  getSnapshot(): FoldSnapshot<S>;
  /** Drops the state and folds again what the server retains (the answer to `resync_required`); retries a failed subscription. */
  resync(): void;
}

const initialSnapshots = new WeakMap<object, FoldSnapshot<unknown>>();

/** The snapshot before any event: one object per spec, so a reader that has seen nothing yet sees no change. */
export function initialSnapshot<E, S>(spec: FoldSpec<E, S>): FoldSnapshot<S> {
  // Keyed by the spec, so the state is of the spec's type.
  let snapshot = initialSnapshots.get(spec) as FoldSnapshot<S> | undefined;
  if (!snapshot) {
    snapshot = { state: spec.initial, status: 'subscribing', error: null };
    initialSnapshots.set(spec, snapshot);
  }
  return snapshot;
}

/** The state of one topic folded once for every reader in a client, kept while anyone reads it. */
export class TopicFold<E, S> {
  private readonly readers = new Set<() => void>();
  private membership: Membership | null = null;
  private current: FoldSnapshot<S>;

  constructor(
    readonly spec: FoldSpec<E, S>,
    private readonly join: (observer: TopicObserver<E>, replay: boolean) => Membership,
    private readonly onDropped: () => void,
  ) {
    this.current = initialSnapshot(spec);
  }

  get snapshot(): FoldSnapshot<S> {
    return this.current;
  }

  read(onChange: () => void): Unsubscribe {
    // Its own function: one listener reading twice is two readers, each removed once.
    const reader = () => onChange();
    this.readers.add(reader);
    this.membership ??= this.join(
      {
        onEvent: (event) => {
          const state = this.spec.reduce(this.current.state, event);
          if (state !== this.current.state) this.set({ ...this.current, state });
        },
        onStarted: () => {
          if (this.current.status !== 'live') this.set({ ...this.current, status: 'live', error: null });
        },
        onError: (error) => this.set({ ...this.current, status: 'error', error }),
      },
      this.spec.replay === 'retained',
    );
    return () => {
      if (!this.readers.delete(reader) || this.readers.size > 0) return;
      const membership = this.membership;
      this.membership = null;
      this.current = initialSnapshot(this.spec);
      membership?.leave();
      this.onDropped();
    };
  }

  resync(): void {
    if (!this.membership) return;
    this.set(initialSnapshot(this.spec));
    this.membership.rejoin();
  }

  private set(next: FoldSnapshot<S>) {
    this.current = next;
    for (const reader of [...this.readers]) {
      if (this.readers.has(reader)) callListener(reader);
    }
  }
}
