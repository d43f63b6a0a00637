import type { Logger } from '../observability/logger';

/** What a subscription says of itself (the bus's TopicSubscription does). */
interface OpenSubscription {
  readonly isClosed: boolean;
}

interface Renewed {
  userId: string;
  subscriptions: WeakRef<OpenSubscription>[];
  timer: NodeJS.Timeout;
}

export interface SessionRenewalOptions {
  /** The store's `renewEveryMs`. */
  everyMs: number;
  /** Renews the session as its owner's (the store's `use`). */
  renew: (sessionId: string, userId: string) => Promise<unknown>;
  logger: Logger;
}

/**
 * Keeps chat sessions renewed while their owner is subscribed to them on this
 * node, however long they stay idle: one timer per session, not per
 * subscriber, renewing as long as one of the session's subscriptions is open.
 * Subscriptions are held weakly and asked at each tick whether they closed (a
 * bus subscription has no end hook to call), so one that ended costs nothing
 * and is forgotten at the next tick, with the session's timer once none is left.
 */
export function createSessionRenewal(opts: SessionRenewalOptions) {
  const renewed = new Map<string, Renewed>();

  /** Drops the subscriptions that ended; whether any is still open. */
  function stillOpen(entry: Renewed): boolean {
    entry.subscriptions = entry.subscriptions.filter((ref) => ref.deref()?.isClosed === false);
    return entry.subscriptions.length > 0;
  }

  /** Never fails: a missed renewal is logged, and ownership outlives a few (see the store's renewEveryMs). */
  function renew(sessionId: string, userId: string): Promise<void> {
    return opts.renew(sessionId, userId).then(
      () => undefined,
      (err: unknown) => {
        opts.logger.warn({ event: 'chat_session_renewal_failed', sessionId, message: err instanceof Error ? err.message : String(err) });
      },
    );
  }

  function tick(sessionId: string) {
    const entry = renewed.get(sessionId);
    if (!entry) return;
    if (!stillOpen(entry)) {
      clearInterval(entry.timer);
      renewed.delete(sessionId);
      return;
    }
    void renew(sessionId, entry.userId);
  }

  return {
    renew,

    /** Renews `sessionId` for `userId` (its owner) until `subscription` and every other one held for it closed. */
    hold(sessionId: string, userId: string, subscription: OpenSubscription) {
      const entry = renewed.get(sessionId);
      if (entry) {
        stillOpen(entry);
        // The owner the store confirmed last.
        entry.userId = userId;
        entry.subscriptions.push(new WeakRef(subscription));
        return;
      }
      const timer = setInterval(() => tick(sessionId), opts.everyMs);
      timer.unref();
      renewed.set(sessionId, { userId, subscriptions: [new WeakRef(subscription)], timer });
    },

    /** Sessions this node renews now (those whose subscriptions all ended leave at their next tick). */
    size: () => renewed.size,

    close() {
      for (const entry of renewed.values()) clearInterval(entry.timer);
      renewed.clear();
    },
  };
}
