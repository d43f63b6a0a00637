import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../server/index';

/**
 * What each subscription yields, inferred from the server's AppRouter (type
 * only: no server code reaches a bundle). The typed client delivers
 * `{ id, data: event }`; these are the events.
 */
type Outputs = inferRouterOutputs<AppRouter>;
type Yield<T> = T extends AsyncIterable<infer Y, unknown, unknown> ? Y : never;
type EventOf<T> = Yield<T> extends { data: infer E } ? E : never;

export type InvestigationEvent = EventOf<Outputs['investigation']['onUpdate']>;
export type AnalysisEvent = EventOf<Outputs['analysis']['onUpdate']>;
export type ChatEvent = EventOf<Outputs['chat']['onEvent']>;
export type NotificationEvent = EventOf<Outputs['notification']['onNotification']>;

type OfType<E, T extends string> = Extract<E, { type: T }>;

export type InvestigationUpdateEvent = OfType<InvestigationEvent, 'investigation_update'>;
export type AnomalyEvent = OfType<InvestigationEvent, 'anomaly_detected'>;
export type ResyncEvent = OfType<InvestigationEvent, 'resync_required'>;
export type AnalysisUpdateEvent = OfType<AnalysisEvent, 'analysis_update'>;
export type ChatMessageEvent = OfType<ChatEvent, 'chat_message'>;
export type ChatTokenEvent = OfType<ChatEvent, 'chat_token'>;
export type NotificationItemEvent = OfType<NotificationEvent, 'notification'>;

export type InvestigationStatus = Extract<InvestigationUpdateEvent['data'], { updateType: 'status' }>['status'];
export type ReportStatus = Extract<InvestigationUpdateEvent['data'], { updateType: 'report_status' }>['status'];
export type AnalysisStatus = Extract<AnalysisUpdateEvent['data'], { updateType: 'status' }>['status'];
export type Severity = AnomalyEvent['data']['severity'];
export type NotificationLevel = NotificationItemEvent['data']['level'];
export type ChatRole = ChatMessageEvent['data']['role'];
