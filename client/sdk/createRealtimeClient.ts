import { createTRPCClient, splitLink, TRPCClientError, type TRPCLink, wsLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import superjson from 'superjson';
import type { ConnectionType } from '../../shared/paths';
import { type BackoffOptions, resolveBackoff } from './backoff';
import { ConnectionController } from './connectionController';
import type { ConnectionState, StateListener } from './connectionState';
import { PresenceWatches } from './presenceState';
import { resubscribeLink } from './resubscribeLink';
import { type ResumeStorage, ResumeStore, subscriptionKey } from './resumeStore';
import { type EventSourceClass, sseLinks, type Transport, type TransportOption, TransportSwitch, transportLink } from './sseTransport';
import { type Topic, TopicRegistry, type TopicStats, type Unsubscribe } from './topicRegistry';
import type { WebSocketClass } from './trackedWebSocket';
import type { AnalysisEvent, AppRouter, ChatEvent, InvestigationEvent, NotificationEvent, RealtimeTRPCClient } from './types';

export interface RealtimeClientOptions {
  /**
   * The WebSocket endpoint, `ws(s)://host:port/api/v1/ws` (a path such as
   * '/api/v1/ws' is taken relative to the page). A function is asked again
   * before every attempt, e.g. to move to another node.
   */
  url: string | (() => string | Promise<string>);
  /**
   * Called before every attempt to connect (the first and each reconnect), so
   * an expired token is replaced without the app noticing. Return a fresh one
   * after a refusal: the token the server has just refused is never sent again,
   * and getting it back surfaces `closed` with 4001 instead.
   */
  getToken: () => string | Promise<string>;
  /**
   * Keeps the last event id of each investigation, analysis and chat topic
   * across page reloads (`localStorage` in a browser). Notifications need none:
   * the server keeps each user's delivered cursor.
   */
  storage?: ResumeStorage;
  /** Prefix of the storage keys; put the user id in it when several users share a browser profile. */
  storagePrefix?: string;
  /** The WebSocket class; required in Node.js 20, which has none (pass `ws`'s `WebSocket`). */
  WebSocket?: WebSocketClass;
  /** Delays between reconnect attempts: exponential with full jitter, bounded. */
  backoff?: BackoffOptions;
  /** The `connection_type` the server labels this connection's metrics with. */
  connectionType?: ConnectionType;
  /**
   * `auto` (the default): the WebSocket, and Server-Sent Events when its
   * upgrade fails `fallbackAfter` times in a row without a socket ever
   * opening (a proxy that refuses upgrades); `websocket` or `sse`: that one
   * only. Over SSE, each topic is one stream (GET /api/v1/sse/<procedure>,
   * the token from getToken in tRPC's connectionParams) and calls go over
   * HTTP (`Authorization: Bearer`); topics, folds and resume work the same.
   */
  transport?: TransportOption;
  /** Upgrades that fail in a row, no socket ever opened, before `auto` falls back to SSE (default 2). */
  fallbackAfter?: number;
  /** The EventSource class for SSE; the browser's by default. Node.js 20 has none: pass one to use SSE there. */
  EventSource?: EventSourceClass;
}

export interface RealtimeClient {
  /** The typed tRPC client of the whole API over this client's one WebSocket (queries, mutations, raw subscriptions). */
  readonly trpc: RealtimeTRPCClient;
  /** The connection's state now. */
  readonly state: ConnectionState;
  /** The transport in use now: `websocket`, or `sse` (chosen, or fallen back to). */
  readonly transport: Transport;
  /** Calls `listener` when the transport changes (a fallback to SSE). */
  onTransportChange(listener: (transport: Transport) => void): Unsubscribe;
  /** Calls `listener` with each new state (not the current one: read `state` for that). */
  onStateChange(listener: StateListener): Unsubscribe;
  /** An investigation's events: `investigation_update`, `anomaly_detected`, `resync_required`. */
  investigation(investigationId: string): Topic<InvestigationEvent>;
  /** An analysis' events: `analysis_update`, `resync_required`. */
  analysis(analysisId: string): Topic<AnalysisEvent>;
  /** A chat session's events: messages, the streamed reply, typing, and the events of the investigations it watches. */
  chat(sessionId: string): Topic<ChatEvent>;
  /** The signed-in user's notifications (those sent while offline first). */
  notifications(): Topic<NotificationEvent>;
  /** Who is watching each investigation (`presence.onChange`): one server subscription per investigation, shared by its listeners. */
  readonly presence: PresenceWatches;
  /** How many topics and folded states this client holds now (each topic is one server subscription while it runs). */
  stats(): TopicStats;
  /** Connects now: skips the wait of `reconnecting`, or tries again after a `closed` that `close()` did not cause. */
  reconnect(): void;
  /** Closes the connection for good: every subscription completes, calls fail. */
  close(): Promise<void>;
}

/**
 * A client of the real-time API: one WebSocket, reconnected with backoff and
 * a fresh token whenever it drops, every subscription resumed from its last
 * event id. Works in browsers and in Node.js 20 (pass `WebSocket` from `ws`).
 */
export function createRealtimeClient(options: RealtimeClientOptions): RealtimeClient {
  const mode = options.transport ?? 'auto';
  const EventSourceImpl = options.EventSource ?? (globalThis as { EventSource?: EventSourceClass }).EventSource;
  if (mode === 'sse' && !EventSourceImpl) {
    throw new Error('No EventSource implementation: pass `EventSource` (Node.js 20 has none) or use transport `websocket`');
  }
  const WebSocketImpl =
    options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket ?? (mode === 'sse' ? noWebSocket : undefined);
  if (!WebSocketImpl) {
    throw new Error('No WebSocket implementation: pass `WebSocket` (e.g. from the `ws` package in Node.js 20)');
  }
  const transport = new TransportSwitch(mode === 'sse' ? 'sse' : 'websocket');
  const fallbackAfter = Math.max(1, options.fallbackAfter ?? 2);
  const backoff = resolveBackoff(options.backoff);
  const connection: ConnectionController = new ConnectionController({
    url: options.url,
    getToken: options.getToken,
    WebSocket: WebSocketImpl,
    backoff,
    connectionType: options.connectionType,
    lazy: mode === 'sse',
    // The upgrade keeps failing, no socket ever opened: a proxy that refuses WebSockets. Move to SSE.
    onNeverOpened: (inRow) => {
      if (mode === 'auto' && EventSourceImpl && inRow >= fallbackAfter) fallBackToSse();
    },
  });
  const fallBackToSse = () => {
    if (transport.current === 'sse' || connection.closedByApp) return;
    // Calls go over HTTP from now on; a stream that fails shows `reconnecting`, one that starts `open`.
    connection.states.set({ status: 'open' });
    // Everything still running moves over first (transportLink), then the WebSocket client is closed.
    transport.switchTo('sse');
    connection.suspend();
  };
  const links: TRPCLink<AppRouter>[] = [
    refuseWhileClosed(connection),
    resubscribeLink(connection),
    transportLink({ transport, states: connection.states, backoff, closed: () => connection.closedByApp }),
  ];
  const ws = wsLink({ client: connection.wsClient, transformer: superjson });
  const overSse = EventSourceImpl ? sseLinks({ url: options.url, getToken: options.getToken, EventSource: EventSourceImpl }) : null;
  links.push(overSse ? splitLink({ condition: () => transport.current === 'sse', true: overSse, false: ws }) : ws);
  const trpc: RealtimeTRPCClient = createTRPCClient<AppRouter>({ links });
  if (mode === 'sse') connection.states.set({ status: 'open' });
  const topics = new TopicRegistry(new ResumeStore(options.storage, options.storagePrefix));

  return {
    trpc,
    get state() {
      return connection.states.state;
    },
    get transport() {
      return transport.current;
    },
    onTransportChange: (listener) => transport.onSwitch(() => listener(transport.current)),
    onStateChange: (listener) => connection.states.subscribe(listener),

    investigation: (investigationId) =>
      topics.topic<InvestigationEvent>({
        key: subscriptionKey('investigation.onUpdate', { investigationId }),
        resumable: true,
        open: (lastEventId, observer) => trpc.investigation.onUpdate.subscribe({ investigationId, ...resumeFrom(lastEventId) }, observer),
      }),
    analysis: (analysisId) =>
      topics.topic<AnalysisEvent>({
        key: subscriptionKey('analysis.onUpdate', { analysisId }),
        resumable: true,
        open: (lastEventId, observer) => trpc.analysis.onUpdate.subscribe({ analysisId, ...resumeFrom(lastEventId) }, observer),
      }),
    chat: (sessionId) =>
      topics.topic<ChatEvent>({
        key: subscriptionKey('chat.onEvent', { sessionId }),
        resumable: true,
        open: (lastEventId, observer) => trpc.chat.onEvent.subscribe({ sessionId, ...resumeFrom(lastEventId) }, observer),
      }),
    notifications: () =>
      topics.topic<NotificationEvent>({
        key: subscriptionKey('notification.onNotification', undefined),
        // Without an id the server starts after the user's delivered cursor,
        // which is right for every tab and device; reconnects still resume by
        // id, and a fold of the retained notifications asks from `0-0`.
        resumable: false,
        open: (lastEventId, observer) =>
          trpc.notification.onNotification.subscribe(lastEventId === undefined ? undefined : { lastEventId }, observer),
      }),

    presence: new PresenceWatches(trpc),
    stats: () => topics.stats(),
    reconnect: () => connection.reconnect(),
    close: () => {
      // First: the state says closed by the app before any subscription completes.
      const closing = connection.close();
      transport.close();
      return closing;
    },
  };
}

/** The WebSocket of a client that only ever uses SSE: never constructed (its wsClient is lazy and gets no call). */
const noWebSocket = class {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly readyState = 3;
  constructor() {
    throw new Error('this realtime client uses Server-Sent Events only');
  }
  send() {}
  close() {}
} satisfies WebSocketClass;

function resumeFrom(lastEventId: string | undefined): { lastEventId?: string } {
  return lastEventId === undefined ? {} : { lastEventId };
}

/**
 * Fails calls at once instead of queueing them where no connection will come:
 * everything after `close()`, and queries and mutations while `closed` for
 * another reason. Subscriptions made then wait, and start on `reconnect()`.
 */
function refuseWhileClosed(connection: ConnectionController): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const state = connection.states.state;
        if (connection.closedByApp) {
          observer.error(new TRPCClientError('this realtime client was closed by close()'));
          return;
        }
        if (state.status === 'closed' && op.type !== 'subscription') {
          observer.error(new TRPCClientError(`not connected: closed with ${state.code} (${state.reason}); call reconnect()`));
          return;
        }
        return next(op).subscribe(observer);
      });
}
