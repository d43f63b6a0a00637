/**
 * What the app can show about the one WebSocket of a client. Every change is
 * a new object, so `state` works as a snapshot (React's useSyncExternalStore).
 */
export type ConnectionState =
  /** A socket is being opened (`attempt` 0: the first one; n: the n-th retry since the last accepted connection). */
  | { readonly status: 'connecting'; readonly attempt: number }
  /** The socket is open and the token was sent; subscriptions flow. */
  | { readonly status: 'open' }
  /**
   * The connection was lost (`code`: its close code; null when no socket was
   * involved, e.g. getToken failed) and retry number `attempt` starts in
   * `nextDelayMs`.
   */
  | {
      readonly status: 'reconnecting';
      readonly attempt: number;
      readonly nextDelayMs: number;
      readonly code: number | null;
      readonly reason: string;
    }
  /**
   * Not connected and not trying: closed by `close()` (code 1000), or by the
   * server with a code after which retrying cannot help (e.g. 4001 when getToken
   * returned the refused token again). `reconnect()` tries again, except after `close()`.
   */
  | { readonly status: 'closed'; readonly code: number; readonly reason: string };

export type ConnectionStatus = ConnectionState['status'];

export type StateListener = (state: ConnectionState) => void;

/** Holds the current state and tells listeners about each change. */
export class ConnectionStateStore {
  private current: ConnectionState;
  private readonly listeners = new Set<StateListener>();

  constructor(initial: ConnectionState) {
    this.current = initial;
  }

  get state(): ConnectionState {
    return this.current;
  }

  set(next: ConnectionState): void {
    if (sameState(this.current, next)) return;
    this.current = next;
    for (const listener of [...this.listeners]) {
      if (this.listeners.has(listener)) callListener(() => listener(next));
    }
  }

  subscribe(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}

function sameState(a: ConnectionState, b: ConnectionState): boolean {
  const entries = Object.entries(a);
  const other: Readonly<Record<string, unknown>> = b;
  return entries.length === Object.keys(b).length && entries.every(([key, value]) => other[key] === value);
}

/**
 * Runs an app callback; a throw must not skip the other listeners or our own
 * bookkeeping, so it is rethrown on its own turn (as tRPC does), where the
 * runtime reports it.
 */
export function callListener(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}
