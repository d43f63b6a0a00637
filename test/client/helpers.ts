import WebSocket from 'ws';
import {
  type ConnectionState,
  createRealtimeClient,
  type FoldedTopic,
  type FoldSnapshot,
  type RealtimeClient,
  type RealtimeClientOptions,
  type ResumeStorage,
  type Topic,
  type WebSocketClass,
} from '../../client/index';
import type { TestServer } from '../support/server';
import { Changes, waitFor } from '../support/wait';

/**
 * What the SDK tests share: a client with `ws` and short backoff, a record of
 * its states, a collector of a topic's events, a storage object, a gate the
 * test opens. Every wait is for a condition (support/wait.ts), never a duration.
 */

/** Short delays, so a reconnect in a test happens at once; each test that cares sets its own. */
const fastBackoff = { initialMs: 20, maxMs: 200, factor: 2 } as const;

export interface TestClient {
  client: RealtimeClient;
  states: StateRecorder;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A real SDK client over `ws` (or the given class, e.g. droppableWebSocket's), recording its states from the start; disposable. */
export function openClient(options: RealtimeClientOptions): TestClient {
  const client = createRealtimeClient({ backoff: fastBackoff, WebSocket, ...options });
  const states = new StateRecorder(client);
  return {
    client,
    states,
    async [Symbol.asyncDispose]() {
      states.stop();
      await client.close();
    },
  };
}

/** Every state a client went through, and waits on them. */
class StateRecorder {
  readonly history: ConnectionState[];
  private readonly changes = new Changes();
  private readonly unsubscribe: () => void;

  constructor(client: RealtimeClient) {
    this.history = [client.state];
    this.unsubscribe = client.onStateChange((state) => {
      this.history.push(state);
      this.changes.changed();
    });
  }

  /** Where the last `next` matched: each `next` looks only at the states after it. */
  private cursor = 0;

  /**
   * Resolves with the first state, after the one the previous `next` matched
   * (from the start for the first call), that matches: tests read the states
   * in order, whether they came before or after the call.
   */
  next<S extends ConnectionState>(match: (state: ConnectionState) => state is S, what: string): Promise<S>;
  next(match: (state: ConnectionState) => boolean, what: string): Promise<ConnectionState>;
  next(match: (state: ConnectionState) => boolean, what: string): Promise<ConnectionState> {
    return this.changes.until(
      () => {
        for (; this.cursor < this.history.length; this.cursor++) {
          const state = this.history[this.cursor]!;
          if (match(state)) {
            this.cursor++;
            return state;
          }
        }
        return undefined;
      },
      () => `timed out waiting for ${what}; states: ${JSON.stringify(this.history)}`,
    );
  }

  count(status: ConnectionState['status']): number {
    return this.history.filter((state) => state.status === status).length;
  }

  stop() {
    this.unsubscribe();
  }
}

export const isOpen = (state: ConnectionState): state is Extract<ConnectionState, { status: 'open' }> => state.status === 'open';
export const isReconnecting = (state: ConnectionState): state is Extract<ConnectionState, { status: 'reconnecting' }> =>
  state.status === 'reconnecting';
export const isClosed = (state: ConnectionState): state is Extract<ConnectionState, { status: 'closed' }> => state.status === 'closed';

/** What one handler on a topic received: its events, its starts and its errors. */
export class TopicCollector<E extends { id: string; type: string }> {
  readonly events: E[] = [];
  readonly errors: unknown[] = [];
  starts = 0;
  readonly unsubscribe: () => void;
  private readonly changes = new Changes();

  constructor(topic: Topic<E>) {
    this.unsubscribe = topic.subscribe({
      onEvent: (event) => {
        this.events.push(event);
        this.changes.changed();
      },
      onStarted: () => {
        this.starts++;
        this.changes.changed();
      },
      onError: (error) => {
        this.errors.push(error);
        this.changes.changed();
      },
    });
  }

  /** The server confirmed the subscription `n` times (1: the start; each reconnect adds one). */
  started(n = 1): Promise<void> {
    return this.changes
      .until(
        () => (this.starts >= n ? true : this.failure()),
        () => `timed out waiting for start ${n}; started ${this.starts} times`,
      )
      .then(() => undefined);
  }

  /** Resolves with the first `n` events once that many arrived. */
  take(n: number): Promise<E[]> {
    return this.changes.until(
      () => (this.events.length >= n ? this.events.slice(0, n) : this.failure()),
      () => `timed out waiting for ${n} events; got ${this.events.length}: ${JSON.stringify(this.events.map((e) => [e.id, e.type]))}`,
    );
  }

  /** Resolves with the first error the topic reported. */
  failed(): Promise<unknown> {
    return this.changes.until(
      () => this.errors[0],
      () => `timed out waiting for an error; got ${this.events.length} events`,
    );
  }

  private failure(): undefined {
    if (this.errors.length > 0) throw new Error(`the topic failed: ${String(this.errors[0])}`, { cause: this.errors[0] });
    return undefined;
  }
}

/**
 * `ws`'s WebSocket, keeping each socket it opened: `drop()` destroys them
 * without a close handshake, as a lost network or a crashed peer does (the
 * client sees 1006, the server a connection gone).
 */
export function droppableWebSocket(): { WebSocket: WebSocketClass; drop(): void } {
  const sockets = new Set<WebSocket>();
  class DroppableWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.add(this);
      this.once('close', () => sockets.delete(this));
    }
  }
  return {
    WebSocket: DroppableWebSocket,
    drop: () => {
      for (const socket of sockets) socket.terminate();
    },
  };
}

/** One reader of a folded topic: its snapshots as they change, and waits on them. */
export class FoldReader<S> {
  readonly stop: () => void;
  private readonly changes = new Changes();

  constructor(private readonly folded: FoldedTopic<S>) {
    this.stop = folded.subscribe(() => this.changes.changed());
  }

  get snapshot(): FoldSnapshot<S> {
    return this.folded.getSnapshot();
  }

  /** Resolves with the first snapshot, from now on, for which `match` holds. */
  until(match: (snapshot: FoldSnapshot<S>) => boolean, what: string): Promise<FoldSnapshot<S>> {
    return this.changes.until(
      () => (match(this.snapshot) ? this.snapshot : undefined),
      () => `timed out waiting for ${what}; last snapshot: ${JSON.stringify(this.snapshot)}`,
    );
  }
}

/** A localStorage stand-in that outlives the clients using it, as the browser's does across reloads. */
export function memoryStorage(): ResumeStorage & { readonly entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    getItem: (key) => entries.get(key) ?? null,
    setItem: (key, value) => void entries.set(key, value),
    removeItem: (key) => void entries.delete(key),
  };
}

/** A promise the test resolves when it decides: `await gate.opened` blocks until `gate.open()`. */
export class Gate {
  private release!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  open() {
    this.release();
  }
}

/** Publishes `n` progress updates one after another on `srv`; resolves to their ids. */
export async function publishProgress(srv: TestServer, investigationId: string, from: number, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const { id } = await srv.server.notifyInvestigationUpdate({
      investigationId,
      updateType: 'progress',
      data: { progress: i % 101, stage: `step ${i}` },
    });
    ids.push(id);
  }
  return ids;
}

/** How many connections the server closed with `code`, from its Prometheus metrics. */
export async function closedWithCode(srv: TestServer, code: number): Promise<number> {
  const text = await (await fetch(`${srv.address.httpUrl}/metrics`)).text();
  const match = text.match(new RegExp(`^realtime_connections_closed_total\\{code="${code}"\\} (\\d+)$`, 'm'));
  return match ? Number(match[1]) : 0;
}

/** Waits until the server holds exactly `n` subscriptions. */
export function subscriptionsReach(srv: TestServer, n: number, what = `${n} subscriptions on the server`): Promise<number> {
  return waitFor(
    () => srv.server.stats().subscriptions,
    (count) => count === n,
    what,
  );
}
