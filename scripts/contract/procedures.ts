import type { z } from 'zod';
import { appRouter } from '../../server/routers';
import type { AnalysisEvent, ChatEvent, EventType, InvestigationEvent, NotificationEvent } from '../../shared/events';

export interface ProcedureInfo {
  path: string;
  kind: 'query' | 'mutation' | 'subscription';
  /** The zod schema of its input; absent when it takes none. */
  input: z.ZodType | undefined;
}

/** Every procedure of the router, read from the router itself. */
export function procedures(): ProcedureInfo[] {
  const all = appRouter._def.procedures as unknown as Record<string, { _def: { type: ProcedureInfo['kind']; inputs: unknown[] } }>;
  return Object.entries(all)
    .map(([path, procedure]) => ({ path, kind: procedure._def.type, input: procedure._def.inputs[0] as z.ZodType | undefined }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** Every member of `T`, no more and no less (a compile error otherwise). */
const allOf =
  <T extends EventType>() =>
  <const A extends readonly T[]>(...types: A & ([T] extends [A[number]] ? unknown : never)): readonly EventType[] =>
    types;

/**
 * The event types each subscription yields: its yield type is only known to the
 * compiler, so the list is written here and checked against that type.
 */
export const subscriptionEvents: Record<string, readonly EventType[]> = {
  'investigation.onUpdate': allOf<InvestigationEvent['type']>()('investigation_update', 'anomaly_detected', 'resync_required'),
  'analysis.onUpdate': allOf<AnalysisEvent['type']>()('analysis_update', 'resync_required'),
  'chat.onEvent': allOf<ChatEvent['type']>()(
    'chat_message',
    'chat_token',
    'typing',
    'investigation_update',
    'anomaly_detected',
    'resync_required',
  ),
  'notification.onNotification': allOf<NotificationEvent['type']>()('notification', 'resync_required'),
};
