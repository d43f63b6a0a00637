import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { z } from 'zod';
import { errorReasons } from '../../shared/errors';

/**
 * The JSON dialect's frames other than events (README "Other languages: the plain JSON
 * dialect"), for the AsyncAPI document only: the server parses them by hand in
 * shared/jsonDialect.ts, which accepts camelCase keys as well.
 */
const resume = { last_event_id: z.string().optional().describe('resume after this event id (lastEventId is accepted too)') };
const target = z.union([
  z.object({ investigation_id: z.string(), ...resume }),
  z.object({ analysis_id: z.string(), ...resume }),
  z.object({ session_id: z.string(), ...resume }),
  z.object({ notifications: z.literal(true), ...resume }),
]);
const echo = z.union([
  z.object({ investigation_id: z.string() }),
  z.object({ analysis_id: z.string() }),
  z.object({ session_id: z.string() }),
  z.object({ notifications: z.literal(true) }),
]);

/** Client → server. */
export const clientMessages = {
  auth: z.object({ type: z.literal('auth'), data: z.object({ token: z.string() }) }),
  subscribe: z.object({ type: z.literal('subscribe'), data: target }),
  unsubscribe: z.object({ type: z.literal('unsubscribe'), data: target }),
  ping: z.object({ type: z.literal('ping') }),
  chat: z.object({ type: z.literal('chat'), data: z.object({ session_id: z.string(), content: z.string() }) }),
  typing: z.object({ type: z.literal('typing'), data: z.object({ session_id: z.string(), is_typing: z.boolean() }) }),
};

/** Server → client, besides the events. */
export const serverReplies = {
  subscribed: z.object({ type: z.literal('subscribed'), data: echo }),
  unsubscribed: z.object({ type: z.literal('unsubscribed'), data: echo }),
  pong: z.object({ type: z.literal('pong') }),
  error: z.object({
    type: z.literal('error'),
    data: z.object({
      code: z.enum(Object.keys(TRPC_ERROR_CODES_BY_KEY) as [string, ...string[]]),
      reason: z.enum(Object.keys(errorReasons) as [string, ...string[]]).nullable(),
      message: z.string(),
    }),
  }),
};
