import { compareEventIds, isEventId, ORIGIN_EVENT_ID } from '../../shared/eventIdOrder';
import { callListener } from './connectionState';
import type { ResumeStore } from './resumeStore';
import type { TopicObserver } from './topicRegistry';
import type { RealtimeClientError } from './types';

export interface TopicEventBase {
  id: string;
  type: string;
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

/** One observer's place on a topic. */
export interface Membership {
  /** Removes the observer; the server subscription stops with the last one. Idempotent. */
  leave(): void;
  /**
   * Forgets what the observer has seen and takes the topic again: from its
   * start for an observer that replays the retained history, else from where
   * the topic's subscription starts (for notifications: the server's cursor).
   * Restarts the server subscription, which also retries one that failed.
   */
  rejoin(): void;
}

interface Member<E> {
  observer: TopicObserver<E>;
  /** Wants the retained history of the topic first (lastEventId `0-0`). */
  replay: boolean;
  /** The id of the last event it got; undefined: none yet. */
  seen: string | undefined;
}

interface Run {
  unsubscribe(): void;
  ended: boolean;
  /** The id it was opened from (undefined: the server's choice). */
  from: string | undefined;
  started: boolean;
  received: number;
}

/**
 * One server subscription and every observer sharing it: emitter handlers
 * and folded states. Observers may need different starts (a fold needs the
 * retained history, a handler only what is new), so the subscription starts
 * from the earliest point any of them needs, restarting from `0-0` when an
 * observer that wants the history joins late, and each observer gets each
 * event id at most once, in order.
 */
export class SharedTopic<E extends TopicEventBase> {
  private readonly members = new Set<Member<E>>();
  /** The current tRPC subscription; null when none runs (not yet, failed or completed). */
  private run: Run | null = null;
  /** The newest id this client received on the topic (the stored one before that). */
  private newest: string | undefined;
  /** The last id the latest run received: where a retry picks up (behind `newest` during a replay from the start). */
  private position: string | undefined;

  constructor(
    private readonly source: TopicSource<E>,
    private readonly resume: ResumeStore,
    private readonly onIdle: () => void,
  ) {
    this.newest = source.resumable ? resume.get(source.key) : undefined;
    this.position = this.newest;
  }

  get size(): number {
    return this.members.size;
  }

  join(observer: TopicObserver<E>, replay: boolean): Membership {
    // A copy: the same object joined twice is two observers, each removed once.
    // A handler never gets what this client already received on the topic.
    const member: Member<E> = { observer: { ...observer }, replay, seen: replay ? undefined : this.newest };
    this.members.add(member);
    if (!this.run) this.start();
    else if (replay && !this.runCoversHistory()) this.restart();
    // Joined a subscription the server already confirmed: it is live for this observer too.
    else if (this.run.started) callListener(() => member.observer.onStarted?.());
    return {
      leave: () => {
        if (!this.members.delete(member)) return;
        if (this.members.size === 0) this.stop();
      },
      rejoin: () => {
        if (!this.members.has(member)) return;
        member.seen = undefined;
        if (!(member.replay && this.runCoversHistory())) this.restart();
      },
    };
  }

  /** The running subscription will deliver the whole retained history: opened from `0-0` and nothing received yet. */
  private runCoversHistory(): boolean {
    return this.run !== null && this.run.from === ORIGIN_EVENT_ID && this.run.received === 0;
  }

  /** Where a new run starts: the history for an observer that needs it, else where the topic left off. */
  private startFrom(): string | undefined {
    let replaying = false;
    for (const member of this.members) {
      if (!member.replay) continue;
      if (member.seen === undefined) return ORIGIN_EVENT_ID;
      replaying = true;
    }
    return this.source.resumable || replaying ? this.position : undefined;
  }

  private start() {
    const from = this.startFrom();
    const run: Run = { unsubscribe: () => undefined, ended: false, from, started: false, received: 0 };
    const end = () => {
      run.ended = true;
      if (this.run === run) this.run = null;
    };
    this.run = run;
    // Only the current run speaks to the observers.
    const live = () => this.run === run;
    const subscription = this.source.open(from, {
      onStarted: () => {
        if (!live()) return;
        run.started = true;
        this.each((member) => member.observer.onStarted?.());
      },
      onData: ({ id, data }) => {
        if (!live()) return;
        run.received++;
        this.received(id, data);
      },
      onError: (error) => {
        if (!live()) return void end();
        end();
        this.each((member) => member.observer.onError?.(error));
      },
      onComplete: end,
    });
    // It may have failed (and ended) before `open` returned, e.g. on a closed client.
    if (run.ended) subscription.unsubscribe();
    else run.unsubscribe = () => subscription.unsubscribe();
  }

  private received(id: string, event: E) {
    this.position = id;
    const resync = event.type === 'resync_required';
    if (resync || this.newest === undefined || compareEventIds(id, this.newest) > 0) {
      this.newest = id;
      if (this.source.resumable) this.resume.set(this.source.key, id);
    }
    this.each((member) => {
      if (!isNewFor(member.seen, id, event)) return;
      member.seen = id;
      member.observer.onEvent?.(event);
    });
  }

  private restart() {
    const run = this.run;
    this.run = null;
    run?.unsubscribe();
    this.start();
  }

  private stop() {
    const run = this.run;
    this.run = null;
    run?.unsubscribe();
    this.onIdle();
  }

  /** Calls every member present now and still present when its turn comes (a handler may remove others). */
  private each(call: (member: Member<E>) => void) {
    for (const member of [...this.members]) {
      if (this.members.has(member)) callListener(() => call(member));
    }
  }
}

/**
 * Whether an observer that has seen up to `seen` gets the event `id`: a newer
 * one, yes. A `resync_required` carries the topic's head id (possibly from
 * another life of the server, so not comparable), and concerns the observers
 * the subscription was resuming for: those that had seen no more than the id
 * it asked from. One that had seen more (the subscription was restarted from
 * `0-0` for another observer) has missed nothing.
 */
function isNewFor(seen: string | undefined, id: string, event: TopicEventBase): boolean {
  if (seen === undefined) return true;
  if (event.type !== 'resync_required') return compareEventIds(id, seen) > 0;
  const askedFrom = resyncAskedFrom(event);
  return askedFrom === null || compareEventIds(seen, askedFrom) <= 0;
}

/** The id a `resync_required` says the subscription asked from (its `data.lastEventId`), if it has the shape of one. */
function resyncAskedFrom(event: TopicEventBase): string | null {
  const data: unknown = (event as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null || !('lastEventId' in data)) return null;
  const id = data.lastEventId;
  return typeof id === 'string' && isEventId(id) ? id : null;
}
