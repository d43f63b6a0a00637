import type { inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../../server/index';
import type { RealtimeEvent } from '../../shared/events';

type Outputs = inferRouterOutputs<AppRouter>;
type Yield<T> = T extends AsyncIterable<infer Y, unknown, unknown> ? Y : never;

/** What `onData` gets from each subscription of the typed client: `{ id, data }`. */
export type InvestigationItem = Yield<Outputs['investigation']['onUpdate']>;
export type AnalysisItem = Yield<Outputs['analysis']['onUpdate']>;
export type ChatItem = Yield<Outputs['chat']['onEvent']>;
export type NotificationItem = Yield<Outputs['notification']['onNotification']>;

/** Generous: long enough for a loaded CI machine, short enough to fail before vitest's own timeout. */
const WAIT_MS = 20_000;

interface Observer<T> {
  onStarted: () => void;
  onData: (item: T) => void;
  onError: (err: unknown) => void;
}

/**
 * Records what one subscription of the typed client delivers and lets a test
 * wait for a count or a condition (never for a duration).
 */
export class Collector<T> {
  readonly items: T[] = [];
  error: unknown = undefined;
  /** Resolves at the server's `started`, i.e. once the subscription is attached to its topic. */
  readonly started: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private readonly subscription: { unsubscribe(): void };

  constructor(start: (observer: Observer<T>) => { unsubscribe(): void }) {
    let markStarted!: () => void;
    let failStart!: (err: unknown) => void;
    this.started = new Promise<void>((resolve, reject) => {
      markStarted = resolve;
      failStart = reject;
    });
    // Nobody may await `started` (an expected error, say).
    this.started.catch(() => undefined);
    this.subscription = start({
      onStarted: () => markStarted(),
      onData: (item) => {
        this.items.push(item);
        this.notify();
      },
      onError: (err) => {
        this.error = err;
        failStart(err);
        this.notify();
      },
    });
  }

  private notify() {
    for (const check of [...this.waiters]) check();
  }

  /** Resolves once `predicate` holds; rejects if the subscription errors first. */
  until(predicate: (items: readonly T[]) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`gave up waiting for ${what}; got ${this.items.length} items: ${JSON.stringify(this.items).slice(0, 4000)}`));
      }, timeoutMs);
      const check = () => {
        if (this.error !== undefined) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(this.error);
        } else if (predicate(this.items)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(this.items.slice());
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the first `n` items once that many arrived. */
  async take(n: number): Promise<T[]> {
    const items = await this.until((items) => items.length >= n, `${n} items`);
    return items.slice(0, n);
  }

  /** Resolves with the subscription's error (a TRPCClientError). */
  failed(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the subscription did not fail')), WAIT_MS);
      const check = () => {
        if (this.error === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.error);
      };
      this.waiters.add(check);
      check();
    });
  }

  unsubscribe() {
    this.subscription.unsubscribe();
  }
}

/**
 * `collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe(input, o))`:
 * the type argument must match what the typed client yields, so a wrong
 * assumption about the contract's types fails the typecheck.
 */
export function collect<T>(start: (observer: Observer<T>) => { unsubscribe(): void }): Collector<T> {
  return new Collector<T>(start);
}

/** Polls a condition on the server (e.g. a stats() value) until it holds. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A parsed response frame of the tRPC WebSocket protocol. */
export interface RawResponse {
  id: number | string | null;
  result?: { type: 'started' | 'stopped' | 'data'; id?: string; data?: unknown };
  error?: { json?: { message: string; data?: { code?: string; reason?: string } } };
}

/**
 * A plain `ws` client speaking the tRPC protocol by hand, for what the typed
 * client hides (the exact frames, `params.lastEventId`). Close it when done.
 */
export async function openRawClient(url: string) {
  const ws = new WebSocket(url);
  const frames: RawResponse[] = [];
  const waiters = new Set<() => void>();
  let closed: { code: number } | null = null;
  ws.on('message', (raw) => {
    const text = raw.toString();
    if (text === 'PING') {
      ws.send('PONG');
      return;
    }
    frames.push(JSON.parse(text) as RawResponse);
    for (const check of [...waiters]) check();
  });
  ws.on('close', (code) => {
    closed = { code };
    for (const check of [...waiters]) check();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });

  function until(predicate: (frames: readonly RawResponse[]) => boolean, what: string): Promise<RawResponse[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`gave up waiting for ${what}; got ${JSON.stringify(frames)}`));
      }, WAIT_MS);
      const check = () => {
        if (predicate(frames)) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(frames.slice());
        } else if (closed) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`socket closed (${closed.code}) while waiting for ${what}`));
        }
      };
      waiters.add(check);
      check();
    });
  }

  return {
    ws,
    frames,
    send(message: unknown) {
      ws.send(JSON.stringify(message));
    },
    until,
    /**
     * The data frames of request `id`, in arrival order: the frame's tracked id
     * and its superjson-decoded payload, `{ id, data: event }`.
     */
    events(id: number): { trackedId: string | undefined; payload: { id: string; data: RealtimeEvent } }[] {
      return frames
        .filter((f) => f.id === id && f.result?.type === 'data')
        .map((f) => ({ trackedId: f.result!.id, payload: superjson.deserialize(f.result!.data as never) }));
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      await done;
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
