import { httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClientError, type TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { EventSourceLike } from '@trpc/server/unstable-core-do-not-import';
import superjson from 'superjson';
import type { ErrorReason } from '../../shared/errors';
import { paths } from '../../shared/paths';
import { type Backoff, backoffDelay } from './backoff';
import type { ConnectionStateStore } from './connectionState';
import { resumeInput, trackedIdOf } from './resubscribeLink';
import type { AppRouter } from './types';

/** How a client reaches the server: one WebSocket, or Server-Sent Events for subscriptions plus HTTP for calls. */
export type Transport = 'websocket' | 'sse';

/** What `createRealtimeClient({ transport })` accepts: `auto` starts on the WebSocket and falls back to SSE when upgrades fail. */
export type TransportOption = 'auto' | Transport;

/**
 * The EventSource class a client is given (the browser's; in Node.js 20, which
 * has none, any standard one), as tRPC's httpSubscriptionLink takes it.
 */
export type EventSourceClass = EventSourceLike.AnyConstructor;

/** The transport a client uses now, and who wants to hear when it changes (once: websocket → sse). */
export class TransportSwitch {
  private readonly listeners = new Set<() => void>();
  private isClosed = false;

  constructor(private value: Transport) {}

  /** `close()` was called on the client: what runs over SSE completes (the WebSocket client completes its own). */
  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const listener of [...this.listeners]) listener();
  }

  get current(): Transport {
    return this.value;
  }

  switchTo(next: Transport): void {
    if (next === this.value) return;
    this.value = next;
    for (const listener of [...this.listeners]) listener();
  }

  onSwitch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}

/**
 * The HTTP base of the server (`http(s)://host:port`) from the WebSocket URL
 * the client was given (`ws(s)://host:port/api/v1/ws`, or a path taken
 * relative to the page).
 */
function httpOrigin(url: string): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const parsed = new URL(url, base);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  return parsed.origin;
}

export interface SseLinkOptions {
  /** The WebSocket URL (or a function of it) the client was given: the SSE and HTTP endpoints are on the same origin. */
  url: string | (() => string | Promise<string>);
  getToken: () => string | Promise<string>;
  EventSource: EventSourceClass;
}

/**
 * The terminating links of the SSE transport: subscriptions through tRPC's
 * httpSubscriptionLink (GET /api/v1/sse/<procedure>, the token in
 * `connectionParams`, which it sends in the query: a browser's EventSource
 * cannot set a header), queries and mutations through httpBatchLink
 * (POST/GET /api/v1/trpc, `Authorization: Bearer`). Each asks getToken anew.
 */
export function sseLinks(options: SseLinkOptions): TRPCLink<AppRouter> {
  const origin = async () => httpOrigin(typeof options.url === 'function' ? await options.url() : options.url);
  // httpBatchLink takes a fixed URL: a placeholder origin, replaced by the real one (which may change) at each fetch.
  const placeholder = 'http://realtime.sdk.invalid';
  return splitLink({
    condition: (op) => op.type === 'subscription',
    true: httpSubscriptionLink({
      url: async () => `${await origin()}${paths.sse}`,
      connectionParams: async () => ({ token: await options.getToken() }),
      transformer: superjson,
      EventSource: options.EventSource,
    }),
    false: httpBatchLink({
      url: `${placeholder}${paths.trpc}`,
      transformer: superjson,
      headers: async () => ({ authorization: `Bearer ${await options.getToken()}` }),
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        return fetch(url.startsWith(placeholder) ? `${await origin()}${url.slice(placeholder.length)}` : url, init);
      },
    }),
  });
}

/**
 * The reasons after which a stream is opened again (with a fresh token, from
 * the last event id): the stream was refused or ended as a whole, not the
 * subscription (a FORBIDDEN `not_granted` is the app's to handle).
 */
const streamRefusals: ReadonlySet<string> = new Set<ErrorReason>([
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'too_many_connections',
  'rate_limited',
  'server_closing',
  'slow_consumer',
  'engine_unavailable',
]);

/**
 * Whether an SSE subscription that failed should be opened again: its stream
 * was refused for a reason that concerns the stream (token, limits, a node
 * going away), or the EventSource failed for good without a readable reason
 * (a browser hides the status of a refused stream: 401, 429, 502, 503).
 */
function retriesOverSse(error: TRPCClientError<AppRouter>): boolean {
  const data = error.data as { reason?: unknown } | undefined | null;
  if (!data) return true;
  return typeof data.reason === 'string' && streamRefusals.has(data.reason);
}

export interface TransportLinkOptions {
  transport: TransportSwitch;
  states: ConnectionStateStore;
  backoff: Backoff;
  /** `close()` was called: errors pass, nothing is retried. */
  closed: () => boolean;
}

/**
 * Runs every operation on the client's current transport and keeps it there:
 *
 * - when the client falls back from the WebSocket to SSE, an operation still
 *   running (a subscription, or a call that never left: the socket never
 *   opened) is moved over, a subscription from the last event id it
 *   delivered, so the topics, folds and resume of the SDK carry on;
 * - over SSE, a subscription whose stream was refused or failed for good is
 *   opened again after the backoff, with a fresh token and its last event id
 *   (an EventSource resumes by itself, with Last-Event-ID, only after a
 *   stream that ended or a network that failed), and the client's state
 *   follows its streams: `open` once one started, `reconnecting` while one
 *   waits to be opened again.
 */
export function transportLink(options: TransportLinkOptions): TRPCLink<AppRouter> {
  const { transport, states, backoff } = options;
  let failuresInRow = 0;
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let lastEventId: string | undefined;
        /** The attachment whose events count; an older one (moved, retried) is ignored. */
        let current: { active: boolean; sub: Unsubscribable | null } | null = null;
        let attachedTo: Transport = transport.current;
        let done = false;
        let retryTimer: ReturnType<typeof setTimeout> | undefined;

        const detach = () => {
          const old = current;
          current = null;
          if (!old) return;
          old.active = false;
          old.sub?.unsubscribe();
        };

        const attach = () => {
          attachedTo = transport.current;
          const self: { active: boolean; sub: Unsubscribable | null } = { active: true, sub: null };
          current = self;
          const input = op.type === 'subscription' ? resumeInput(op.input, lastEventId) : op.input;
          const sub = next({ ...op, input }).subscribe({
            next: (envelope) => {
              if (!self.active) return;
              const { result } = envelope;
              lastEventId = trackedIdOf(result) ?? lastEventId;
              if (attachedTo === 'sse' && op.type === 'subscription') {
                if (result.type === 'started') {
                  failuresInRow = 0;
                  states.set({ status: 'open' });
                } else if (result.type === 'state' && result.state === 'connecting' && result.error) {
                  // The EventSource reconnects by itself (Last-Event-ID): show it.
                  states.set({ status: 'reconnecting', attempt: 1, nextDelayMs: 0, code: null, reason: result.error.message });
                }
              }
              observer.next(envelope);
            },
            error: (error) => {
              if (!self.active) return;
              self.active = false;
              if (current === self) current = null;
              if (!done && attachedTo === 'sse' && op.type === 'subscription' && !options.closed() && retriesOverSse(error)) {
                const attempt = failuresInRow++;
                const delayMs = backoffDelay(attempt, backoff);
                states.set({ status: 'reconnecting', attempt: attempt + 1, nextDelayMs: delayMs, code: null, reason: error.message });
                retryTimer = setTimeout(() => {
                  retryTimer = undefined;
                  if (!done && !options.closed()) attach();
                }, delayMs);
                return;
              }
              done = true;
              observer.error(error);
            },
            complete: () => {
              if (!self.active) return;
              self.active = false;
              done = true;
              observer.complete();
            },
          });
          if (self.active) self.sub = sub;
          else sub.unsubscribe();
        };

        const stopListening = transport.onSwitch(() => {
          if (done) return;
          if (transport.closed) {
            if (attachedTo !== 'sse') return;
            done = true;
            clearTimeout(retryTimer);
            detach();
            observer.complete();
            return;
          }
          if (attachedTo === transport.current) return;
          detach();
          if (retryTimer === undefined) attach();
        });
        attach();

        return () => {
          done = true;
          clearTimeout(retryTimer);
          stopListening();
          detach();
        };
      });
}
