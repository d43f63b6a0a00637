import { z } from 'zod';
import { eventIdSchema } from './eventId';
import { analysisUpdateFields, anomalyFields, investigationUpdateFields, notificationFields, sourceTimestampInput } from './fields';
import { analysisIdSchema, investigationIdSchema, sessionIdSchema, userIdSchema } from './ids';
import { inputBounds } from './limits';

/**
 * Inputs of every procedure. Objects are strict: an unknown key is a
 * BAD_REQUEST that names it, not a silently ignored typo. Subscription inputs
 * accept `lastEventId`, which tRPC merges in on reconnect.
 */
const lastEventId = { lastEventId: eventIdSchema.nullish() };

export const investigationSubscribeInput = z.strictObject({ investigationId: investigationIdSchema, ...lastEventId });
export const analysisSubscribeInput = z.strictObject({ analysisId: analysisIdSchema, ...lastEventId });
export const chatSubscribeInput = z.strictObject({ sessionId: sessionIdSchema, ...lastEventId });
export const notificationSubscribeInput = z.strictObject({ ...lastEventId }).optional();

/**
 * A publisher's name for one publish: the same key again (from the same
 * publisher, to the same procedure) within IDEMPOTENCY_TTL_SECONDS returns the
 * first call's ids and stores nothing; with another payload it is a CONFLICT.
 */
export const idempotencyKeySchema = z
  .string()
  .min(1, 'must not be empty')
  .max(inputBounds.idempotencyKeyChars, `must be at most ${inputBounds.idempotencyKeyChars} characters`)
  .regex(/^[!-~]+$/, 'may hold only printable ASCII characters, no spaces')
  .describe('idempotency key');
const idempotencyKey = { idempotencyKey: idempotencyKeySchema.optional() };

const investigationPublish = { investigationId: investigationIdSchema, ...idempotencyKey };
const analysisPublish = { analysisId: analysisIdSchema, ...idempotencyKey };

const oneOf = (values: readonly string[]) => ({ error: `must be one of ${values.join(', ')}` });

export const notifyInvestigationUpdateInput = z.discriminatedUnion(
  'updateType',
  [
    z.strictObject({
      ...investigationPublish,
      updateType: z.literal('status'),
      data: z.strictObject({ ...investigationUpdateFields.status, ...sourceTimestampInput }),
    }),
    z.strictObject({
      ...investigationPublish,
      updateType: z.literal('progress'),
      data: z.strictObject({ ...investigationUpdateFields.progress, ...sourceTimestampInput }),
    }),
    z.strictObject({
      ...investigationPublish,
      updateType: z.literal('agent_finding'),
      data: z.strictObject({ ...investigationUpdateFields.agent_finding, ...sourceTimestampInput }),
    }),
    z.strictObject({
      ...investigationPublish,
      updateType: z.literal('report_status'),
      data: z.strictObject({ ...investigationUpdateFields.report_status, ...sourceTimestampInput }),
    }),
  ],
  oneOf(Object.keys(investigationUpdateFields)),
);

export const notifyAnomalyInput = z.strictObject({
  ...investigationPublish,
  anomaly: z.strictObject({ ...anomalyFields, ...sourceTimestampInput }),
});

export const notifyAnalysisUpdateInput = z.discriminatedUnion(
  'updateType',
  [
    z.strictObject({
      ...analysisPublish,
      updateType: z.literal('status'),
      data: z.strictObject({ ...analysisUpdateFields.status, ...sourceTimestampInput }),
    }),
    z.strictObject({
      ...analysisPublish,
      updateType: z.literal('partial_result'),
      data: z.strictObject({ ...analysisUpdateFields.partial_result, ...sourceTimestampInput }),
    }),
    z.strictObject({
      ...analysisPublish,
      updateType: z.literal('error'),
      data: z.strictObject({ ...analysisUpdateFields.error, ...sourceTimestampInput }),
    }),
  ],
  oneOf(Object.keys(analysisUpdateFields)),
);

export const chatSendInput = z.strictObject({
  sessionId: sessionIdSchema,
  content: z.string().trim().min(1, 'must not be empty').max(inputBounds.chatContentChars),
});
/** Nothing to give: the session is the caller's. (Omitted input is taken as `{}`.) */
export const chatCreateSessionInput = z.strictObject({}).optional();
export const chatTypingInput = z.strictObject({ sessionId: sessionIdSchema, isTyping: z.boolean() });
export const chatWatchInput = z.strictObject({ sessionId: sessionIdSchema, investigationId: investigationIdSchema });

export const sendNotificationInput = z.union(
  [
    z.strictObject({
      userIds: z.array(userIdSchema).min(1).max(inputBounds.userIdsPerNotification),
      ...notificationFields,
      ...idempotencyKey,
    }),
    z.strictObject({ broadcast: z.literal(true), ...notificationFields, ...idempotencyKey }),
  ],
  { error: 'give either userIds (1 to 1000 user ids) or broadcast: true, with title, body and level' },
);

/** What publishers may pass: `timestamp` as a `Date` or an ISO-8601 string (parsed to a `Date`). */
export type NotifyInvestigationUpdateInput = z.input<typeof notifyInvestigationUpdateInput>;
export type NotifyAnomalyInput = z.input<typeof notifyAnomalyInput>;
export type NotifyAnalysisUpdateInput = z.input<typeof notifyAnalysisUpdateInput>;
export type SendNotificationInput = z.infer<typeof sendNotificationInput>;
