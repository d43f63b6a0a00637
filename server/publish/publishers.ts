import type { RealtimeEvent } from '../../shared/events';
import {
  type NotifyAnalysisUpdateInput,
  type NotifyAnomalyInput,
  type NotifyInvestigationUpdateInput,
  notifyAnalysisUpdateInput,
  notifyAnomalyInput,
  notifyInvestigationUpdateInput,
  type SendNotificationInput,
  sendNotificationInput,
} from '../../shared/inputs';
import { topics } from '../../shared/topics';
import type { EventBus } from '../bus/eventBus';
import type { ChatSessionStore } from '../chat/sessionStore';
import { apiError } from '../errors';
import type { KnownUsers } from '../notifications/knownUsers';
import type { Logger } from '../observability/logger';

export interface PublisherDeps {
  bus: EventBus;
  sessions: ChatSessionStore;
  knownUsers: KnownUsers;
  connectedUsers: () => Iterable<string>;
  logger: Logger;
}

/**
 * The publishing side, shared by the service mutations and the in-process
 * functions, so both validate and fan out the same way. Inputs are parsed with
 * the contract's schemas: an in-process caller gets the same checks as HTTP.
 */
export function createPublishers(deps: PublisherDeps) {
  const { bus, sessions } = deps;

  /** Investigation events also reach the chat sessions watching the investigation. */
  async function publishInvestigationEvent(investigationId: string, draft: Parameters<EventBus['publish']>[1]): Promise<RealtimeEvent> {
    // Watchers first: if they cannot be read, nothing is stored and the caller
    // may simply retry. Once the event itself is stored it is accepted; a copy
    // that fails is logged rather than turned into an error a retry would
    // answer with a duplicate.
    const watching = await sessions.watchersOf(investigationId).catch((cause: unknown) => {
      // To a publisher this is the same outage as the event store's own.
      throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
    });
    const event = await bus.publish(topics.investigation(investigationId), draft);
    const copies = await Promise.allSettled(watching.map((sessionId) => bus.publish(topics.chat(sessionId), draft)));
    const failed = copies.filter((c) => c.status === 'rejected').length;
    if (failed > 0) deps.logger.error({ event: 'chat_copy_failed', investigationId, eventId: event.id, failed });
    return event;
  }

  return {
    async notifyInvestigationUpdate(raw: NotifyInvestigationUpdateInput): Promise<{ id: string }> {
      const input = notifyInvestigationUpdateInput.parse(raw);
      const data = { investigationId: input.investigationId, updateType: input.updateType, ...input.data };
      const event = await publishInvestigationEvent(input.investigationId, {
        type: 'investigation_update',
        data: data as Extract<RealtimeEvent, { type: 'investigation_update' }>['data'],
      });
      return { id: event.id };
    },

    async notifyAnomalyDetected(raw: NotifyAnomalyInput): Promise<{ id: string }> {
      const input = notifyAnomalyInput.parse(raw);
      const event = await publishInvestigationEvent(input.investigationId, {
        type: 'anomaly_detected',
        data: { investigationId: input.investigationId, ...input.anomaly },
      });
      return { id: event.id };
    },

    async notifyAnalysisUpdate(raw: NotifyAnalysisUpdateInput): Promise<{ id: string }> {
      const input = notifyAnalysisUpdateInput.parse(raw);
      const data = { analysisId: input.analysisId, updateType: input.updateType, ...input.data };
      const event = await bus.publish(topics.analysis(input.analysisId), {
        type: 'analysis_update',
        data: data as Extract<RealtimeEvent, { type: 'analysis_update' }>['data'],
      });
      return { id: event.id };
    },

    /**
     * To the listed users, or to every user seen within the notification
     * retention (and everyone connected now) for a broadcast. Each user's copy
     * is kept for them if they are offline.
     */
    async sendNotification(raw: SendNotificationInput): Promise<{ ids: string[] }> {
      const input = sendNotificationInput.parse(raw);
      const { title, body, level, link } = input;
      const recipients =
        'userIds' in input ? new Set(input.userIds) : new Set([...(await deps.knownUsers.list()), ...deps.connectedUsers()]);
      const data = link === undefined ? { title, body, level } : { title, body, level, link };
      const events = await Promise.all(
        [...recipients].map((userId) => bus.publish(topics.notification(userId), { type: 'notification', data })),
      );
      return { ids: events.map((e) => e.id) };
    },
  };
}

export type Publishers = ReturnType<typeof createPublishers>;
