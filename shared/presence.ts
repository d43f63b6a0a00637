import { z } from 'zod';
import { investigationIdSchema, userIdSchema } from './ids';
import { inputBounds } from './limits';

/**
 * Presence: who is watching an investigation right now, across nodes. A
 * member is a user with at least one live subscription to the investigation
 * (`investigation.onUpdate`, or the JSON dialect's investigation
 * subscription); watching presence itself does not make one. Presence events
 * carry no id: they are not kept, and a new subscription starts from the
 * current state (`presence_state`).
 */

/** `presence.onChange` and `presence.get`. */
export const presenceInput = z.strictObject({ investigationId: investigationIdSchema });

const presenceMemberSchema = z.object({
  userId: userIdSchema,
  /** Its live subscriptions to the investigation, on every node (a browser tab holds one). */
  connections: z.number().int().nonnegative(),
  /** Since when it has been watching without a break. */
  since: z.date(),
});

/**
 * The watchers of one investigation: at most `inputBounds.presenceListed`
 * members (those watching longest first), and `total`, the number of them all.
 */
export const presenceListSchema = z.object({
  investigationId: investigationIdSchema,
  members: z.array(presenceMemberSchema).max(inputBounds.presenceListed),
  total: z.number().int().nonnegative(),
});

const change = <T extends string>(type: T) =>
  z.object({
    type: z.literal(type),
    timestamp: z.date(),
    data: presenceMemberSchema.extend({
      investigationId: investigationIdSchema,
      /** The number of members after this change. */
      total: z.number().int().nonnegative(),
    }),
  });

/** The first event of every `presence.onChange`: the current watchers. */
const presenceStateEventSchema = z.object({
  type: z.literal('presence_state'),
  timestamp: z.date(),
  data: presenceListSchema,
});
/** A user started watching, or a member's number of connections changed (upsert by `userId`). */
const presenceJoinEventSchema = change('presence_join');
/** A member's last connection went (`connections: 0`), or its node stopped answering for `PRESENCE_TTL_SECONDS`. */
const presenceLeaveEventSchema = change('presence_leave');

export const presenceEventSchema = z.discriminatedUnion('type', [
  presenceStateEventSchema,
  presenceJoinEventSchema,
  presenceLeaveEventSchema,
]);

export type PresenceList = z.infer<typeof presenceListSchema>;
export type PresenceEvent = z.infer<typeof presenceEventSchema>;
export type PresenceStateEvent = z.infer<typeof presenceStateEventSchema>;
