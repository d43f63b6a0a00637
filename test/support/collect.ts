import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import type { AppRouter } from '../../server/index';
import { Changes } from './wait';

/** What `onData` gets from each subscription of the typed client, as the SDK infers it from AppRouter. */
export type { AnalysisItem, ChatItem, InvestigationItem, NotificationItem } from '../../client/sdk/types';

interface Observer<T> {
  onStarted: () => void;
  onData: (item: T) => void;
  onError: (err: unknown) => void;
}

/**
 * Records what one subscription of the typed client delivers and lets a test
 * wait for a count, a condition, its start or its refusal (never for a duration).
 */
export class Collector<T> {
  readonly items: T[] = [];
  error: unknown = undefined;
  private hasStarted = false;
  private readonly changes = new Changes();
  private readonly subscription: { unsubscribe(): void };
  /**
   * Resolves at the server's `started`, i.e. once the subscription is attached
   * to its topic (events published after this reach it); rejects if it fails first.
   */
  readonly started: Promise<void>;

  constructor(start: (observer: Observer<T>) => { unsubscribe(): void }) {
    this.started = this.changes
      .until(
        () => {
          if (this.hasStarted) return true;
          if (this.error !== undefined) throw this.error;
          return undefined;
        },
        () => 'timed out waiting for the subscription to start',
      )
      .then(() => undefined);
    // A refused subscription rejects `started`; a test awaiting `failed()` instead must not see an unhandled rejection.
    this.started.catch(() => undefined);
    this.subscription = start({
      onStarted: () => {
        this.hasStarted = true;
        this.changes.changed();
      },
      onData: (item) => {
        this.items.push(item);
        this.changes.changed();
      },
      onError: (err) => {
        this.error = err;
        this.changes.changed();
      },
    });
  }

  /** Resolves with the items so far once `predicate` holds; rejects if the subscription fails first. */
  until(predicate: (items: readonly T[]) => boolean, what = 'the expected items'): Promise<T[]> {
    return this.changes.until(
      () => {
        if (predicate(this.items)) return this.items.slice();
        if (this.error !== undefined)
          throw new Error(`the subscription failed while waiting for ${what}: ${String(this.error)}`, { cause: this.error });
        return undefined;
      },
      () => `timed out waiting for ${what}; got ${this.items.length} items: ${JSON.stringify(this.items).slice(0, 4000)}`,
    );
  }

  /** Resolves with the first `n` items once that many arrived. */
  async take(n: number): Promise<T[]> {
    const items = await this.until((items) => items.length >= n, `${n} items`);
    return items.slice(0, n);
  }

  /**
   * The error a refused subscription failed with, a TRPCClientError (read its
   * code and reason with `refusalOf`); fails the test if it started instead.
   */
  async failed(): Promise<TRPCClientError<AppRouter>> {
    const err = await this.changes.until(
      () => {
        if (this.hasStarted) throw new Error('expected the subscription to be refused, but it started');
        return this.error;
      },
      () => 'timed out waiting for the subscription to be refused',
    );
    expect(err).toBeInstanceOf(TRPCClientError);
    return err as TRPCClientError<AppRouter>;
  }

  unsubscribe(): void {
    this.subscription.unsubscribe();
  }
}

/**
 * Starts a subscription into a new Collector:
 * `collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe(input, o))`.
 * The type argument must match what the typed client yields.
 */
export function collect<T>(start: (observer: Observer<T>) => { unsubscribe(): void }): Collector<T> {
  return new Collector<T>(start);
}
