import type { TRPCClient, TRPCClientError } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../server/index';

/**
 * Every event and item type of the client, in one place: inferred from the
 * server's AppRouter (a type import: no server code reaches a bundle), never
 * written by hand, so a change of the contract shows up here as a compile
 * error. `./client` and `./client/react` both export these, with the same
 * meaning.
 */
export type { AppRouter };

type Outputs = inferRouterOutputs<AppRouter>;
type Yield<T> = T extends AsyncIterable<infer Y, unknown, unknown> ? Y : never;

/** What `onData` of each raw tRPC subscription receives: `{ id, data: event }` (tRPC's tracked envelope). */
export type InvestigationItem = Yield<Outputs['investigation']['onUpdate']>;
export type AnalysisItem = Yield<Outputs['analysis']['onUpdate']>;
export type ChatItem = Yield<Outputs['chat']['onEvent']>;
export type NotificationItem = Yield<Outputs['notification']['onNotification']>;

/** The events each subscription yields, `resync_required` included. */
export type InvestigationEvent = InvestigationItem['data'];
export type AnalysisEvent = AnalysisItem['data'];
export type ChatEvent = ChatItem['data'];
export type NotificationEvent = NotificationItem['data'];

/** One event type of a topic's union: `EventOf<InvestigationEvent, 'anomaly_detected'>`. */
export type EventOf<E extends { type: string }, T extends E['type']> = Extract<E, { type: T }>;

export type InvestigationUpdateEvent = EventOf<InvestigationEvent, 'investigation_update'>;
export type AnomalyEvent = EventOf<InvestigationEvent, 'anomaly_detected'>;
/** The same on every topic: the history no longer reaches the id asked from. */
export type ResyncEvent = EventOf<InvestigationEvent, 'resync_required'>;
export type AnalysisUpdateEvent = EventOf<AnalysisEvent, 'analysis_update'>;
export type ChatMessageEvent = EventOf<ChatEvent, 'chat_message'>;
export type ChatTokenEvent = EventOf<ChatEvent, 'chat_token'>;
export type TypingEvent = EventOf<ChatEvent, 'typing'>;
/** One notification (the `notification` member of NotificationEvent). */
export type NotificationMessageEvent = EventOf<NotificationEvent, 'notification'>;

export type InvestigationStatus = Extract<InvestigationUpdateEvent['data'], { updateType: 'status' }>['status'];
export type ReportStatus = Extract<InvestigationUpdateEvent['data'], { updateType: 'report_status' }>['status'];
export type AnalysisStatus = Extract<AnalysisUpdateEvent['data'], { updateType: 'status' }>['status'];
export type Severity = AnomalyEvent['data']['severity'];
export type NotificationLevel = NotificationMessageEvent['data']['level'];
export type ChatRole = ChatMessageEvent['data']['role'];

/** The typed tRPC client of the whole API. */
export type RealtimeTRPCClient = TRPCClient<AppRouter>;

/** What a failed call or subscription rejects with: `error.data?.code` (tRPC) and `error.data?.reason` (shared/errors.ts). */
export type RealtimeClientError = TRPCClientError<AppRouter>;

/** What `presence.onChange` yields (untracked: no id): `presence_state` first, then `presence_join` / `presence_leave`. */
export type PresenceEvent = Yield<Outputs['presence']['onChange']>;
/** The watchers of an investigation, as `presence.get` answers and `presence_state` carries. */
export type PresenceList = Outputs['presence']['get'];
export type PresenceMember = PresenceList['members'][number];
export type PresenceChangeEvent = EventOf<PresenceEvent, 'presence_join' | 'presence_leave'>;
