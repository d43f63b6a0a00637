import { callListener } from './connectionState';
import type { ResumeStore } from './resumeStore';
import type { RealtimeClientError } from './types';

/** Calling it removes the handler; the topic's server subscription stops with the last one. Idempotent. */
export type Unsubscribe = () => void;

interface TopicEventBase {
  id: string;
  type: string;
}

/** Everything one `subscribe` call can listen to on a topic. */
export interface TopicObserver<E> {
  /** Every event of the topic, in order. */
  onEvent?: (event: E) => void;
  /** The server confirmed the subscription: at the start, and again after each reconnect. */
  onStarted?: () => void;
  /**
   * The server refused or ended the subscription (e.g. `FORBIDDEN`, reason
   * `not_granted`); it delivers nothing more until a handler is added again,
   * which retries from the last event id.
   */
  onError?: (error: RealtimeClientError) => void;
}

/**
 * One topic of the API (an investigation, an analysis, a chat session, the
 * user's notifications) as an event emitter. Every handler of every handle of
 * the same topic shares one server subscription, opened with the first
 * handler and stopped with the last.
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
  subscribe(observer: TopicObserver<E>): Unsubscribe;
  /** The id of the last event this client received on the topic (or the stored one before that). */
  readonly lastEventId: string | undefined;
}

/** The tRPC subscription behind a topic. */
export interface TopicSource<E> {
  /** Procedure and input: the topic's identity (see subscriptionKey). */
  key: string;
  /** Whether the topic starts from its last known id (false: the server decides, e.g. notifications' own cursor). */
  resumable: boolean;
  open(
    lastEventId: string | undefined,
    observer: {
      onStarted: () => void;
      onData: (item: { id: string; data: E }) => void;
      onError: (error: RealtimeClientError) => void;
      onComplete: () => void;
    },
  ): { unsubscribe(): void };
}

/** One running (or failed) server subscription and the handlers sharing it. */
class SharedTopic<E extends TopicEventBase> {
  private readonly observers = new Set<TopicObserver<E>>();
  /** The current tRPC subscription; null when none runs (not yet, failed or completed). */
  private run: { unsubscribe(): void } | null = null;

  constructor(
    private readonly source: TopicSource<E>,
    private readonly resume: ResumeStore,
    private readonly onIdle: () => void,
  ) {}

  get lastEventId(): string | undefined {
    return this.resume.get(this.source.key);
  }

  add(observer: TopicObserver<E>): Unsubscribe {
    // A copy: the same object added twice is two handlers, each removed once.
    const own = { ...observer };
    this.observers.add(own);
    if (!this.run) this.start();
    return () => {
      if (!this.observers.delete(own)) return;
      if (this.observers.size === 0) this.stop();
    };
  }

  private start() {
    const run = { unsubscribe: () => undefined as void, ended: false };
    const end = () => {
      run.ended = true;
      if (this.run === run) this.run = null;
    };
    this.run = run;
    // Only the current run speaks to the handlers.
    const live = () => this.run === run;
    const subscription = this.source.open(this.source.resumable ? this.lastEventId : undefined, {
      onStarted: () => {
        if (live()) this.each((o) => o.onStarted?.());
      },
      onData: ({ id, data }) => {
        if (!live()) return;
        if (this.source.resumable) this.resume.set(this.source.key, id);
        this.each((o) => o.onEvent?.(data));
      },
      onError: (error) => {
        if (!live()) return void end();
        end();
        this.each((o) => o.onError?.(error));
      },
      onComplete: end,
    });
    // It may have failed (and ended) before `open` returned, e.g. on a closed client.
    if (run.ended) subscription.unsubscribe();
    else run.unsubscribe = () => subscription.unsubscribe();
  }

  private stop() {
    const run = this.run;
    this.run = null;
    run?.unsubscribe();
    this.onIdle();
  }

  /** Calls every observer present now and still present when its turn comes (a handler may remove others). */
  private each(call: (observer: TopicObserver<E>) => void) {
    for (const observer of [...this.observers]) {
      if (this.observers.has(observer)) callListener(() => call(observer));
    }
  }
}

/** The shared subscriptions of one client, by topic key. */
export class TopicRegistry {
  private readonly topics = new Map<string, SharedTopic<TopicEventBase>>();

  constructor(private readonly resume: ResumeStore) {}

  /** A handle on a topic; cheap, and any number of handles of one topic share its subscription. */
  topic<E extends TopicEventBase>(source: TopicSource<E>): Topic<E> {
    const shared = (): SharedTopic<E> => {
      let entry = this.topics.get(source.key) as SharedTopic<E> | undefined;
      if (!entry) {
        const created = new SharedTopic<E>(source, this.resume, () => {
          if (this.topics.get(source.key) === (created as SharedTopic<TopicEventBase>)) this.topics.delete(source.key);
        });
        // Each key is made by one source kind, so its event type never differs.
        this.topics.set(source.key, created as SharedTopic<TopicEventBase>);
        entry = created;
      }
      return entry;
    };
    const subscribe = (observer: TopicObserver<E>) => shared().add(observer);
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
      get lastEventId() {
        return source.resumable ? resume.get(source.key) : undefined;
      },
    };
  }
}
