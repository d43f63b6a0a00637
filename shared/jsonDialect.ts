import { z } from 'zod';

/**
 * The seed's plain JSON dialect (README "Other languages: the plain JSON dialect"): what a
 * client sends, one JSON text frame each. Keys are accepted in snake_case (the
 * seed's) or camelCase; ids are checked by the procedures' own input schemas,
 * so both dialects refuse the same ids with the same errors.
 */

/** A value of either spelling of one key: snake_case first. */
function either(data: Record<string, unknown>, snake: string, camel: string): unknown {
  return data[snake] ?? data[camel];
}

const dataObject = z.record(z.string(), z.unknown());

/**
 * Every message's envelope. Built once: zod compiles an object schema the
 * first time it parses, and a schema built per message was compiled per
 * message (a quarter of what a JSON-dialect connection cost the server).
 */
const envelopeSchema = z.object({ type: z.string().max(32), data: dataObject.optional() });

/** What a subscribe or unsubscribe names: one topic of the contract. */
export type DialectTarget =
  | { kind: 'investigation'; id: string }
  | { kind: 'analysis'; id: string }
  | { kind: 'chat'; id: string }
  | { kind: 'notifications' };

export type DialectMessage =
  | { type: 'auth'; token: string }
  | { type: 'ping' }
  | { type: 'subscribe' | 'unsubscribe'; target: DialectTarget; lastEventId: unknown }
  | { type: 'chat'; sessionId: unknown; content: unknown }
  | { type: 'typing'; sessionId: unknown; isTyping: unknown };

function targetOf(data: Record<string, unknown>): DialectTarget | string {
  const investigation = either(data, 'investigation_id', 'investigationId');
  const analysis = either(data, 'analysis_id', 'analysisId');
  const session = either(data, 'session_id', 'sessionId');
  const notifications = data.notifications === true;
  const named = [investigation, analysis, session].filter((v) => v !== undefined).length + (notifications ? 1 : 0);
  if (named !== 1) return 'name exactly one of investigation_id, analysis_id, session_id, notifications: true';
  if (notifications) return { kind: 'notifications' };
  const [kind, id] =
    investigation !== undefined
      ? (['investigation', investigation] as const)
      : analysis !== undefined
        ? (['analysis', analysis] as const)
        : (['chat', session] as const);
  if (typeof id !== 'string') return `${kind === 'chat' ? 'session' : kind}_id must be a string`;
  return { kind, id };
}

/** A client's frame, already JSON-parsed: the message, or why it is not one (a short text, never an echo). */
export function parseDialectMessage(raw: unknown): DialectMessage | string {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) return 'a message is a JSON object with a string `type` and an object `data`';
  const data = envelope.data.data ?? {};
  switch (envelope.data.type) {
    case 'ping':
      return { type: 'ping' };
    case 'auth': {
      const token = data.token;
      return typeof token === 'string' ? { type: 'auth', token } : 'auth needs data.token';
    }
    case 'subscribe':
    case 'unsubscribe': {
      const target = targetOf(data);
      if (typeof target === 'string') return target;
      return { type: envelope.data.type, target, lastEventId: either(data, 'last_event_id', 'lastEventId') };
    }
    case 'chat':
      return { type: 'chat', sessionId: either(data, 'session_id', 'sessionId'), content: data.content };
    case 'typing':
      return { type: 'typing', sessionId: either(data, 'session_id', 'sessionId'), isTyping: either(data, 'is_typing', 'isTyping') };
    default:
      return 'unknown type: one of auth, subscribe, unsubscribe, ping, chat, typing';
  }
}
