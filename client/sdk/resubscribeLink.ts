import type { TRPCClientError, TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { ErrorReason } from '../../shared/errors';
import type { ConnectionController } from './connectionController';
import type { AppRouter } from './types';

/**
 * The tracked id of an event a link passes on, or undefined for anything else
 * (started, stopped, state): an event is `type: 'data'` from wsLink and has no
 * `type` at all from httpSubscriptionLink (tRPC's own retryLink reads it so).
 */
export function trackedIdOf(result: { type?: string; id?: unknown }): string | undefined {
  return (result.type === undefined || result.type === 'data') && result.id !== undefined ? String(result.id) : undefined;
}

/**
 * The reasons the server refuses a whole connection with (4001, 4008). A
 * subscription sent on such a socket before its refusal arrived is answered
 * with the same error; it is about the connection, not the subscription.
 */
const connectionRefusals: ReadonlySet<string> = new Set<ErrorReason>([
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'auth_timeout',
  'too_many_connections',
]);

function isConnectionRefusal(error: TRPCClientError<AppRouter>): boolean {
  const reason: unknown = error.data?.reason;
  return typeof reason === 'string' && connectionRefusals.has(reason);
}

/** The subscription's input with `lastEventId` (every subscription input of the contract accepts it). */
export function resumeInput(input: unknown, lastEventId: string | undefined): unknown {
  if (lastEventId === undefined) return input;
  if (input === undefined || input === null) return { lastEventId };
  if (typeof input === 'object') return { ...input, lastEventId };
  return input;
}

/**
 * Keeps subscriptions alive through a refused connection: tRPC ends a
 * subscription that gets an error, so one that happened to be sent on a
 * socket the server then refused (an expired token, too many connections)
 * would be lost for good. This link sends it again, from the last event id it
 * delivered, once the next socket is open: the connection's retry policy sets
 * the pace, never this link.
 */
export function resubscribeLink(connection: ConnectionController): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type !== 'subscription') return next(op);
      return observable((observer) => {
        let lastEventId: string | undefined;
        let current: Unsubscribable | null = null;
        let waiting: (() => void) | null = null;
        let stopped = false;

        const attach = (input: unknown) => {
          current = next({ ...op, input }).subscribe({
            next: (envelope) => {
              lastEventId = trackedIdOf(envelope.result) ?? lastEventId;
              observer.next(envelope);
            },
            error: (error) => {
              if (stopped || connection.closedByApp || !isConnectionRefusal(error)) {
                observer.error(error);
                return;
              }
              current = null;
              waiting = connection.states.subscribe((state) => {
                if (connection.closedByApp) {
                  waiting?.();
                  observer.complete();
                } else if (state.status === 'open') {
                  waiting?.();
                  waiting = null;
                  attach(resumeInput(op.input, lastEventId));
                }
              });
            },
            complete: () => observer.complete(),
          });
        };
        attach(op.input);

        return () => {
          stopped = true;
          waiting?.();
          current?.unsubscribe();
        };
      });
    };
}
