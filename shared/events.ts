import { z } from 'zod';
import {
  analysisUpdateFields,
  anomalyFields,
  chatRoleSchema,
  investigationUpdateFields,
  notificationFields,
  sourceTimestamp,
} from './fields';
import { analysisIdSchema, investigationIdSchema, sessionIdSchema, userIdSchema } from './ids';

/**
 * Every event has the envelope `{ id, type, timestamp, data }`; the `type`
 * decides the shape of `data`. Data is flat: the topic id, the `updateType` and
 * that type's fields side by side. Updates and anomalies may carry `timestamp`,
 * when the source saw the change (the envelope's `timestamp` is the publish time).
 */
function envelope<TType extends string, TData extends z.ZodType>(type: TType, data: TData) {
  return z.object({ id: z.string(), type: z.literal(type), timestamp: z.date(), data });
}

const investigationId = { investigationId: investigationIdSchema };
const analysisId = { analysisId: analysisIdSchema };

export const investigationUpdateDataSchema = z.discriminatedUnion('updateType', [
  z.object({ ...investigationId, updateType: z.literal('status'), ...investigationUpdateFields.status, ...sourceTimestamp }),
  z.object({ ...investigationId, updateType: z.literal('progress'), ...investigationUpdateFields.progress, ...sourceTimestamp }),
  z.object({ ...investigationId, updateType: z.literal('agent_finding'), ...investigationUpdateFields.agent_finding, ...sourceTimestamp }),
  z.object({ ...investigationId, updateType: z.literal('report_status'), ...investigationUpdateFields.report_status, ...sourceTimestamp }),
]);

export const anomalyDataSchema = z.object({ ...investigationId, ...anomalyFields, ...sourceTimestamp });

export const analysisUpdateDataSchema = z.discriminatedUnion('updateType', [
  z.object({ ...analysisId, updateType: z.literal('status'), ...analysisUpdateFields.status, ...sourceTimestamp }),
  z.object({ ...analysisId, updateType: z.literal('partial_result'), ...analysisUpdateFields.partial_result, ...sourceTimestamp }),
  z.object({ ...analysisId, updateType: z.literal('error'), ...analysisUpdateFields.error, ...sourceTimestamp }),
]);

export const chatMessageDataSchema = z.object({
  sessionId: sessionIdSchema,
  messageId: z.string(),
  role: chatRoleSchema,
  content: z.string(),
  userId: userIdSchema,
});

export const chatTokenDataSchema = z
  .object({
    sessionId: sessionIdSchema,
    messageId: z.string(),
    delta: z.string(),
    done: z.boolean(),
  })
  .describe(
    'A chunk of a streamed assistant reply. Live only: numbered and delivered, never stored or replayed; the whole reply follows as a chat_message.',
  );

export const typingDataSchema = z.object({
  sessionId: sessionIdSchema,
  userId: userIdSchema,
  isTyping: z.boolean(),
});

export const notificationDataSchema = z.object(notificationFields);

/**
 * Sent instead of a replay when `lastEventId` is older than the retained history
 * (or from another life of the server): the client must refetch state.
 */
export const resyncDataSchema = z.object({
  topic: z.string(),
  lastEventId: z.string(),
  reason: z.enum(['history_trimmed', 'unknown_event_id']),
});

export const investigationUpdateEventSchema = envelope('investigation_update', investigationUpdateDataSchema);
export const anomalyDetectedEventSchema = envelope('anomaly_detected', anomalyDataSchema);
export const analysisUpdateEventSchema = envelope('analysis_update', analysisUpdateDataSchema);
export const chatMessageEventSchema = envelope('chat_message', chatMessageDataSchema);
export const chatTokenEventSchema = envelope('chat_token', chatTokenDataSchema);
export const typingEventSchema = envelope('typing', typingDataSchema);
export const notificationEventSchema = envelope('notification', notificationDataSchema);
export const resyncRequiredEventSchema = envelope('resync_required', resyncDataSchema);

export const realtimeEventSchema = z.discriminatedUnion('type', [
  investigationUpdateEventSchema,
  anomalyDetectedEventSchema,
  analysisUpdateEventSchema,
  chatMessageEventSchema,
  chatTokenEventSchema,
  typingEventSchema,
  notificationEventSchema,
  resyncRequiredEventSchema,
]);

export type RealtimeEvent = z.infer<typeof realtimeEventSchema>;
export type EventType = RealtimeEvent['type'];
/** Every event type, in the union's order (the `type` label values of the event metrics). */
export const eventTypes: readonly EventType[] = realtimeEventSchema.options.map((schema) => schema.shape.type.value);
export type EventOfType<T extends EventType> = Extract<RealtimeEvent, { type: T }>;
export type InvestigationUpdateData = z.infer<typeof investigationUpdateDataSchema>;
export type AnomalyData = z.infer<typeof anomalyDataSchema>;
export type AnalysisUpdateData = z.infer<typeof analysisUpdateDataSchema>;

/** What each subscription yields. */
export type InvestigationEvent = EventOfType<'investigation_update' | 'anomaly_detected' | 'resync_required'>;
export type AnalysisEvent = EventOfType<'analysis_update' | 'resync_required'>;
export type ChatEvent = EventOfType<
  'chat_message' | 'chat_token' | 'typing' | 'investigation_update' | 'anomaly_detected' | 'resync_required'
>;
export type NotificationEvent = EventOfType<'notification' | 'resync_required'>;

/** An event before the engine gave it an id and a timestamp. */
export type EventDraft<E extends RealtimeEvent = RealtimeEvent> = E extends RealtimeEvent ? Pick<E, 'type' | 'data'> : never;
