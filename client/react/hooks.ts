import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { compareEventIds, ORIGIN_EVENT_ID } from '../../shared/eventIdOrder';
import type { RealtimeClient } from '../index';
import { useRealtimeClient } from './provider';
import {
  type AnalysisState,
  type ChatState,
  type InvestigationState,
  initialAnalysisState,
  initialChatState,
  initialInvestigationState,
  initialNotificationsState,
  type NotificationsState,
  reduceAnalysis,
  reduceChat,
  reduceInvestigation,
  reduceNotifications,
} from './state';
import type { AnalysisEvent, ChatEvent, InvestigationEvent, NotificationEvent } from './types';

/** Why a subscription or a call was refused: the tRPC code and our stable reason (shared/errors.ts). */
export interface RealtimeError {
  message: string;
  code?: string;
  reason?: string;
}

function toRealtimeError(err: unknown): RealtimeError {
  const data = (err as { data?: { code?: unknown; reason?: unknown } } | null)?.data;
  return {
    message: err instanceof Error ? err.message : String(err),
    code: typeof data?.code === 'string' ? data.code : undefined,
    reason: typeof data?.reason === 'string' ? data.reason : undefined,
  };
}

/**
 * `idle` without an id; `subscribing` until the server said `started`; `live`
 * after (also across reconnects: the client resumes from the last event id);
 * `error` when the server refused it (see `error`).
 */
export type SubscriptionStatus = 'idle' | 'subscribing' | 'live' | 'error';

export interface StreamControls {
  subscription: SubscriptionStatus;
  /** Why the server refused the subscription (e.g. FORBIDDEN / not_granted). */
  subscriptionError: RealtimeError | null;
  /** Drops the state and replays what the server retains: the answer to `resync`. */
  resync: () => void;
}

type Observer<E> = {
  onStarted: () => void;
  onData: (item: { id: string; data: E }) => void;
  onError: (err: unknown) => void;
};
type Start<E> = (client: RealtimeClient, lastEventId: string | undefined, observer: Observer<E>) => { unsubscribe(): void };

type Action<E> = { kind: 'event'; event: E } | { kind: 'reset' };

/**
 * One subscription of the typed client folded into state. The first subscribe
 * asks for `lastEventId` `0-0` (or none, see `replayFrom`), so the state is
 * rebuilt from the topic's retained history and then follows it live; on a
 * reconnect tRPC resends the id of the last event received, so nothing is
 * missed or applied twice.
 */
function useEventStream<E, S>(
  key: string | null,
  start: Start<E>,
  reduce: (state: S, event: E) => S,
  initial: S,
  replayFrom: string | undefined,
): [S, StreamControls] {
  const client = useRealtimeClient();
  const [state, dispatch] = useReducer((s: S, action: Action<E>) => (action.kind === 'reset' ? initial : reduce(s, action.event)), initial);
  const [subscription, setSubscription] = useState<SubscriptionStatus>('idle');
  const [error, setError] = useState<RealtimeError | null>(null);
  const [generation, setGeneration] = useState(0);
  // `start` is a new closure each render; the subscription follows `key` only.
  const startRef = useRef(start);
  startRef.current = start;

  // biome-ignore lint/correctness/useExhaustiveDependencies: `generation` restarts the subscription (resync)
  useEffect(() => {
    dispatch({ kind: 'reset' });
    setError(null);
    if (key === null) {
      setSubscription('idle');
      return;
    }
    setSubscription('subscribing');
    const sub = startRef.current(client, replayFrom, {
      onStarted: () => setSubscription('live'),
      onData: ({ data }) => dispatch({ kind: 'event', event: data }),
      onError: (err) => {
        setSubscription('error');
        setError(toRealtimeError(err));
      },
    });
    return () => sub.unsubscribe();
  }, [client, key, generation, replayFrom]);

  const resync = useCallback(() => setGeneration((g) => g + 1), []);
  return [state, { subscription, subscriptionError: error, resync }];
}

// ---------------------------------------------------------------- investigation

export type InvestigationUpdates = InvestigationState & StreamControls;

/**
 * An investigation, live: status, progress and stage, agent findings, report
 * status, anomalies (by severity), the whole timeline, the last event, and
 * `resync` set when the server could no longer replay what was missed. Pass
 * null to subscribe to nothing.
 */
export function useInvestigationUpdates(investigationId: string | null): InvestigationUpdates {
  const [state, controls] = useEventStream<InvestigationEvent, InvestigationState>(
    investigationId,
    (client, lastEventId, observer) =>
      client.trpc.investigation.onUpdate.subscribe({ investigationId: investigationId!, lastEventId }, observer),
    reduceInvestigation,
    initialInvestigationState,
    ORIGIN_EVENT_ID,
  );
  return { ...state, ...controls };
}

// ---------------------------------------------------------------- analysis

export type AnalysisUpdates = AnalysisState & StreamControls;

/** An analysis, live: status and progress, partial results in order, the last error. */
export function useAnalysisUpdates(analysisId: string | null): AnalysisUpdates {
  const [state, controls] = useEventStream<AnalysisEvent, AnalysisState>(
    analysisId,
    (client, lastEventId, observer) => client.trpc.analysis.onUpdate.subscribe({ analysisId: analysisId!, lastEventId }, observer),
    reduceAnalysis,
    initialAnalysisState,
    ORIGIN_EVENT_ID,
  );
  return { ...state, ...controls };
}

// ---------------------------------------------------------------- chat

export interface Chat extends ChatState, StreamControls {
  /** Sends a message; the assistant's reply then streams into `streaming`, then `messages`. */
  send: (content: string) => Promise<{ messageId: string }>;
  /** Tells the others whether this user is typing; repeated values are not re-sent. */
  setTyping: (isTyping: boolean) => void;
  /** Lets the assistant (and this session's subscribers) follow an investigation. */
  watchInvestigation: (investigationId: string) => Promise<void>;
  /** A message is on its way to the server. */
  sending: boolean;
  /** The last send, typing or watch call that failed. */
  callError: RealtimeError | null;
}

/**
 * A chat session: its messages, the assistant's replies while they stream
 * (`streaming[i].text` grows chunk by chunk), who is typing, and the calls.
 */
export function useChat(sessionId: string | null): Chat {
  const client = useRealtimeClient();
  const [state, controls] = useEventStream<ChatEvent, ChatState>(
    sessionId,
    (c, lastEventId, observer) => c.trpc.chat.onEvent.subscribe({ sessionId: sessionId!, lastEventId }, observer),
    reduceChat,
    initialChatState,
    ORIGIN_EVENT_ID,
  );
  const [sending, setSending] = useState(false);
  const [callError, setCallError] = useState<RealtimeError | null>(null);
  const typingSent = useRef(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new client or session starts with nothing sent and no error
  useEffect(() => {
    typingSent.current = false;
    setCallError(null);
  }, [client, sessionId]);

  const send = useCallback(
    async (content: string) => {
      if (!sessionId) throw new Error('useChat: no session');
      setSending(true);
      setCallError(null);
      try {
        const result = await client.trpc.chat.send.mutate({ sessionId, content });
        typingSent.current = false;
        return result;
      } catch (err) {
        setCallError(toRealtimeError(err));
        throw err;
      } finally {
        setSending(false);
      }
    },
    [client, sessionId],
  );

  const setTyping = useCallback(
    (isTyping: boolean) => {
      if (!sessionId || typingSent.current === isTyping) return;
      typingSent.current = isTyping;
      client.trpc.chat.typing.mutate({ sessionId, isTyping }).catch((err: unknown) => setCallError(toRealtimeError(err)));
    },
    [client, sessionId],
  );

  const watchInvestigation = useCallback(
    async (investigationId: string) => {
      if (!sessionId) throw new Error('useChat: no session');
      try {
        await client.trpc.chat.watchInvestigation.mutate({ sessionId, investigationId });
      } catch (err) {
        setCallError(toRealtimeError(err));
        throw err;
      }
    },
    [client, sessionId],
  );

  return { ...state, ...controls, send, setTyping, watchInvestigation, sending, callError };
}

// ---------------------------------------------------------------- notifications

export interface Notifications extends NotificationsState, StreamControls {
  /** How many arrived since the last `markAllRead()`. */
  unread: number;
  markAllRead: () => void;
}

/**
 * The signed-in user's notifications, newest first. By default the server
 * delivers what this user has not received yet (also what arrived while
 * offline), once; `{ replay: 'retained' }` shows everything it still keeps.
 */
export function useNotifications(opts: { replay?: 'undelivered' | 'retained'; enabled?: boolean } = {}): Notifications {
  const replayFrom = opts.replay === 'retained' ? ORIGIN_EVENT_ID : undefined;
  const [state, controls] = useEventStream<NotificationEvent, NotificationsState>(
    opts.enabled === false ? null : 'notifications',
    (client, lastEventId, observer) => client.trpc.notification.onNotification.subscribe({ lastEventId }, observer),
    reduceNotifications,
    initialNotificationsState,
    replayFrom,
  );
  const [readThrough, setReadThrough] = useState<string | null>(null);
  const newest = state.items[0]?.eventId ?? null;
  const markAllRead = useCallback(() => setReadThrough(newest), [newest]);
  const unread = state.items.filter((item) => readThrough === null || compareEventIds(item.eventId, readThrough) > 0).length;
  return { ...state, ...controls, unread, markAllRead };
}
