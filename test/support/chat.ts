import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import type { ChatEvent, NotificationEvent, InvestigationEvent } from '../../shared/events';

/** What a subscription's `onData` receives for a `tracked()` event. */
export interface Tracked<E> {
  id: string;
  data: E;
}
export type ChatItem = Tracked<ChatEvent>;
export type NotificationItem = Tracked<NotificationEvent>;
export type InvestigationItem = Tracked<InvestigationEvent>;

/** Overall bound of every wait below: generous, it only turns a hang into a readable failure. */
const WAIT_MS = 10_000;

interface Handlers<T> {
  onStarted: () => void;
  onData: (value: T) => void;
  onError: (err: unknown) => void;
  onStopped: () => void;
}

/**
 * Everything one subscription received, with waits on conditions over it.
 * Used by the chat, notification and HTTP suites alike.
 */
export class Collector<T> {
  readonly items: T[] = [];
  error: unknown = undefined;
  private readonly listeners = new Set<() => void>();
  private startedResolve!: () => void;
  private startedReject!: (err: unknown) => void;
  /** Resolves when the server confirmed the subscription; rejects if it failed first. */
  readonly started = new Promise<void>((resolve, reject) => {
    this.startedResolve = resolve;
    this.startedReject = reject;
  });
  unsubscribe: () => void = () => undefined;

  constructor() {
    // A subscription that is refused rejects `started`; tests that await `failed` instead must not see an unhandled rejection.
    this.started.catch(() => undefined);
  }

  readonly handlers: Handlers<T> = {
    onStarted: () => this.startedResolve(),
    onData: (value) => {
      this.items.push(value);
      this.notify();
    },
    onError: (err) => {
      this.error = err;
      this.startedReject(err);
      this.notify();
    },
    onStopped: () => this.notify(),
  };

  /** Waits for the server to confirm the subscription (events published after this reach it). */
  ready(): Promise<void> {
    return withTimeout(this.started, 'the subscription to start');
  }

  private notify() {
    for (const listener of [...this.listeners]) listener();
  }

  /** Waits until `done(items)` holds; fails with what arrived so far if it never does. */
  until(done: (items: T[]) => boolean, what = 'the expected events'): Promise<T[]> {
    if (done(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.error !== undefined) {
          finish();
          reject(new Error(`subscription failed while waiting for ${what}: ${String(this.error)}`));
        } else if (done(this.items)) {
          finish();
          resolve(this.items);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.items)}`));
      }, WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  /** Waits for at least `n` items and returns the first `n`. */
  async count(n: number): Promise<T[]> {
    await this.until((items) => items.length >= n, `${n} events`);
    return this.items.slice(0, n);
  }

  /** The error a refused subscription failed with (a TRPCClientError); fails the test if it started instead. */
  async failed(): Promise<TRPCClientError<never>> {
    const outcome = await withTimeout(
      this.started.then(
        () => ({ started: true as const }),
        (err: unknown) => ({ started: false as const, err }),
      ),
      'the subscription to be refused',
    );
    if (outcome.started) throw new Error('expected the subscription to be refused, but it started');
    expect(outcome.err).toBeInstanceOf(TRPCClientError);
    return outcome.err as TRPCClientError<never>;
  }
}

function withTimeout<V>(promise: Promise<V>, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts a subscription into a new Collector:
 * `const c = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId }, h))`.
 */
export function collect<T>(start: (handlers: Handlers<T>) => { unsubscribe: () => void }): Collector<T> {
  const collector = new Collector<T>();
  const sub = start(collector.handlers);
  collector.unsubscribe = () => sub.unsubscribe();
  return collector;
}

/** Polls `read()` until it equals `expected` (deep), failing with the last value after the overall bound. */
export async function waitForValue<V>(read: () => V | Promise<V>, expected: V): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last: V = await read();
  while (!isDeepEqual(last, expected)) {
    if (Date.now() > deadline) expect(last).toEqual(expected);
    await new Promise((r) => setTimeout(r, 10));
    last = await read();
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}

/** The tRPC error code and our stable reason of a failed call or subscription. */
export function errorOf(err: unknown): { code: unknown; reason: unknown } {
  expect(err).toBeInstanceOf(TRPCClientError);
  const data = (err as TRPCClientError<never>).data as { code?: unknown; reason?: unknown } | undefined;
  return { code: data?.code, reason: data?.reason };
}

/** Runs `call` and returns its failure's code and reason; fails the test if it succeeds. */
export async function rejectionOf(call: () => Promise<unknown>): Promise<{ code: unknown; reason: unknown; message: string }> {
  try {
    await call();
  } catch (err) {
    return { ...errorOf(err), message: (err as Error).message };
  }
  throw new Error('expected the call to be refused, but it succeeded');
}
