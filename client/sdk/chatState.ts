import { isNewEvent, keepNewest, type ResyncInfo } from '../../shared/eventFold';
import type { ChatEvent, ChatRole, EventOf } from './types';

/** The fold of a chat session's events (see shared/eventFold.ts for the rules every fold follows). */

export interface ChatMessage {
  messageId: string;
  eventId: string;
  at: Date;
  role: ChatRole;
  content: string;
  userId: string;
}

/** An assistant reply still arriving: the text so far. */
export interface StreamingReply {
  messageId: string;
  text: string;
  /** The last chunk arrived; the whole message follows as a chat_message. */
  done: boolean;
}

export interface ChatState {
  /** Oldest first, the newest MAX_ITEMS. */
  messages: ChatMessage[];
  /** Replies being streamed, in the order they started. */
  streaming: StreamingReply[];
  /** Users typing now (by user id). */
  typing: string[];
  /** The last investigation event of an investigation the session watches. */
  lastInvestigationEvent: EventOf<ChatEvent, 'investigation_update' | 'anomaly_detected'> | null;
  lastEvent: ChatEvent | null;
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialChatState: ChatState = {
  messages: [],
  streaming: [],
  typing: [],
  lastInvestigationEvent: null,
  lastEvent: null,
  lastEventId: null,
  resyncRequired: null,
};

export function reduceChat(state: ChatState, event: ChatEvent): ChatState {
  if (!isNewEvent(state.lastEventId, event)) return state;
  const base = { ...state, lastEvent: event, lastEventId: event.id };
  switch (event.type) {
    case 'resync_required':
      return { ...base, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
    case 'chat_token': {
      const { messageId, delta, done } = event.data;
      const current = state.streaming.find((reply) => reply.messageId === messageId);
      const next: StreamingReply = { messageId, text: (current?.text ?? '') + delta, done };
      const streaming = current
        ? state.streaming.map((reply) => (reply.messageId === messageId ? next : reply))
        : [...state.streaming, next];
      return { ...base, streaming };
    }
    case 'chat_message': {
      const { messageId, role, content, userId } = event.data;
      const message: ChatMessage = { messageId, eventId: event.id, at: event.timestamp, role, content, userId };
      return {
        ...base,
        messages: state.messages.some((m) => m.messageId === messageId) ? state.messages : keepNewest(state.messages, message),
        // The whole message replaces the streamed text.
        streaming: state.streaming.filter((reply) => reply.messageId !== messageId),
        // A user who sent a message has stopped typing it.
        typing: state.typing.filter((id) => id !== userId),
      };
    }
    case 'typing': {
      const { userId, isTyping } = event.data;
      const others = state.typing.filter((id) => id !== userId);
      return { ...base, typing: isTyping ? [...others, userId] : others };
    }
    case 'investigation_update':
    case 'anomaly_detected':
      return { ...base, lastInvestigationEvent: event };
  }
}
