import type { ResumeStore } from './resumeStore';
import { SharedTopic, type TopicEventBase, type TopicSource } from './sharedTopic';
import { type FoldedTopic, type FoldSpec, initialSnapshot, TopicFold } from './topicFold';
import type { RealtimeClientError } from './types';

/** Calling it removes the handler; the topic's server subscription stops with the last one. Idempotent. */
export type Unsubscribe = () => void;

/** Everything one `subscribe` call can listen to on a topic. */
export interface TopicObserver<E> {
  /** Every event of the topic, in order, each id once. */
  onEvent?: (event: E) => void;
  /**
   * The server confirmed the subscription: at the start (at once when it
   * already was), again after each reconnect and each restart.
   */
  onStarted?: () => void;
  /**
   * The server refused or ended the subscription (e.g. `FORBIDDEN`, reason
   * `not_granted`); it delivers nothing more until a handler is added again,
   * which retries from the last event id.
   */
  onError?: (error: RealtimeClientError) => void;
}

export interface SubscribeOptions {
  /**
   * `retained`: this observer gets everything the server still keeps of the
   * topic first (`lastEventId` `0-0`). When the topic's subscription already
   * runs, it restarts from `0-0`; the other observers get only what they have
   * not seen. Without it, an observer gets what comes after what this client
   * already received on the topic.
   */
  replay?: 'retained';
}

/**
 * One topic of the API (an investigation, an analysis, a chat session, the
 * user's notifications) as an event emitter and as folded state. Every
 * handler and every fold of every handle of the same topic shares one server
 * subscription, opened with the first and stopped with the last.
 */
export interface Topic<E extends TopicEventBase> {
  /** Calls `handler` with each event of that type, typed from the contract. */
  on<T extends E['type']>(type: T, handler: (event: Extract<E, { type: T }>) => void): Unsubscribe;
  /** The history no longer reaches the last event id: refetch the state, then carry on (events follow). */
  onResync(handler: (event: Extract<E, { type: 'resync_required' }>) => void): Unsubscribe;
  onEvent(handler: (event: E) => void): Unsubscribe;
  onStarted(handler: () => void): Unsubscribe;
  onError(handler: (error: RealtimeClientError) => void): Unsubscribe;
  /** Several callbacks as one handler. */
  subscribe(observer: TopicObserver<E>, options?: SubscribeOptions): Unsubscribe;
  /**
   * The topic's events folded by `spec` into one state, shared by every
   * reader in this client (the React hooks read these) and dropped when the
   * last reader leaves.
   */
  fold<S>(spec: FoldSpec<E, S>): FoldedTopic<S>;
  /** The id of the last event this client received on the topic (or the stored one before that). */
  readonly lastEventId: string | undefined;
}

/** What a client holds now: for diagnostics, and to check that nothing outlives its readers. */
export interface TopicStats {
  /** Topics with a handler or a fold (each has one server subscription while it runs). */
  topics: number;
  /** Folded states with at least one reader. */
  folds: number;
}

/** The shared subscriptions and folded states of one client, by topic key. */
export class TopicRegistry {
  private readonly topics = new Map<string, SharedTopic<TopicEventBase>>();
  /** By topic key and spec name; the spec tells which state type each one folds into. */
  private readonly folds = new Map<string, { readonly spec: object }>();

  constructor(private readonly resume: ResumeStore) {}

  stats(): TopicStats {
    return { topics: this.topics.size, folds: this.folds.size };
  }

  /** A handle on a topic; cheap, and any number of handles of one topic share its subscription. */
  topic<E extends TopicEventBase>(source: TopicSource<E>): Topic<E> {
    const subscribe = (observer: TopicObserver<E>, options?: SubscribeOptions) =>
      this.shared(source).join(observer, options?.replay === 'retained').leave;
    const resume = this.resume;
    return {
      subscribe,
      on: (type, handler) =>
        subscribe({
          onEvent: (event) => {
            // The listener asked for `type`, so the event is of that member of the union.
            if (event.type === type) handler(event as Extract<E, { type: typeof type }>);
          },
        }),
      onResync: (handler) =>
        subscribe({
          onEvent: (event) => {
            if (event.type === 'resync_required') handler(event as Extract<E, { type: 'resync_required' }>);
          },
        }),
      onEvent: (handler) => subscribe({ onEvent: handler }),
      onStarted: (handler) => subscribe({ onStarted: handler }),
      onError: (handler) => subscribe({ onError: handler }),
      fold: (spec) => this.folded(source, spec),
      get lastEventId() {
        return source.resumable ? resume.get(source.key) : undefined;
      },
    };
  }

  private shared<E extends TopicEventBase>(source: TopicSource<E>): SharedTopic<E> {
    // Each key is made by one source kind, so its event type never differs.
    const existing = this.topics.get(source.key) as SharedTopic<E> | undefined;
    if (existing) return existing;
    const created: SharedTopic<E> = new SharedTopic<E>(source, this.resume, () => {
      if (this.topics.get(source.key) === (created as SharedTopic<TopicEventBase>)) this.topics.delete(source.key);
    });
    this.topics.set(source.key, created as SharedTopic<TopicEventBase>);
    return created;
  }

  private folded<E extends TopicEventBase, S>(source: TopicSource<E>, spec: FoldSpec<E, S>): FoldedTopic<S> {
    const key = `${source.key}#${spec.name}`;
    const current = (): TopicFold<E, S> | undefined => {
      const fold = this.folds.get(key);
      if (fold && fold.spec !== spec) throw new Error(`two different folds are named "${spec.name}" on ${source.key}`);
      // The check above: this key's fold is made from this very spec.
      return fold as TopicFold<E, S> | undefined;
    };
    return {
      subscribe: (onChange) => {
        let fold = current();
        if (!fold) {
          const created: TopicFold<E, S> = new TopicFold<E, S>(
            spec,
            (observer, replay) => this.shared(source).join(observer, replay),
            () => {
              if (this.folds.get(key) === created) this.folds.delete(key);
            },
          );
          this.folds.set(key, created);
          fold = created;
        }
        return fold.read(onChange);
      },
      getSnapshot: () => current()?.snapshot ?? initialSnapshot(spec),
      resync: () => current()?.resync(),
    };
  }
}
