import { compareEventIds } from '../../shared/eventIdOrder';
import type {
  AnalysisEvent,
  AnalysisStatus,
  ChatEvent,
  ChatRole,
  InvestigationEvent,
  InvestigationStatus,
  NotificationEvent,
  NotificationLevel,
  ReportStatus,
  Severity,
} from './types';

/**
 * The state each hook keeps, folded from its subscription's events by a pure
 * reducer. Every reducer skips an event id it has already applied (ids
 * increase within a topic), so a replay that overlaps what was seen changes
 * nothing. Lists are bounded: a long-running page keeps the newest entries.
 */
export const MAX_ITEMS = 200;

function keepNewest<T>(list: readonly T[], item: T): T[] {
  const next = [...list, item];
  return next.length > MAX_ITEMS ? next.slice(next.length - MAX_ITEMS) : next;
}

/**
 * Whether an event still has to be applied. A `resync_required` always is: it
 * carries the topic's head id, which may be older than the id the client
 * asked from (an id of another life of the server), and everything after it
 * must apply.
 */
function isNew(lastEventId: string | null, event: { id: string; type: string }): boolean {
  return event.type === 'resync_required' || lastEventId === null || compareEventIds(event.id, lastEventId) > 0;
}

/** Set when the server answered `resync_required`: what is shown may miss events. */
export interface ResyncInfo {
  reason: 'history_trimmed' | 'unknown_event_id';
  lastEventId: string;
}

// ---------------------------------------------------------------- investigation

export interface Finding {
  eventId: string;
  at: Date;
  agent: string;
  finding: string;
  details?: Record<string, unknown>;
}

export interface Anomaly {
  eventId: string;
  at: Date;
  severity: Severity;
  description: string;
  contractId: string;
  confidence: number;
}

export interface InvestigationState {
  status: InvestigationStatus | null;
  statusMessage: string | null;
  /** Percent, 0–100; null before the first progress update. */
  progress: number | null;
  stage: string | null;
  findings: Finding[];
  report: { status: ReportStatus; url: string | null } | null;
  /** Oldest first. */
  anomalies: Anomaly[];
  /** Every update and anomaly, oldest first. */
  timeline: InvestigationEvent[];
  lastEvent: InvestigationEvent | null;
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialInvestigationState: InvestigationState = {
  status: null,
  statusMessage: null,
  progress: null,
  stage: null,
  findings: [],
  report: null,
  anomalies: [],
  timeline: [],
  lastEvent: null,
  lastEventId: null,
  resyncRequired: null,
};

export function reduceInvestigation(state: InvestigationState, event: InvestigationEvent): InvestigationState {
  if (!isNew(state.lastEventId, event)) return state;
  const base = { ...state, lastEvent: event, lastEventId: event.id };
  switch (event.type) {
    case 'resync_required':
      return { ...base, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
    case 'anomaly_detected': {
      const { severity, description, contractId, confidence } = event.data;
      const anomaly: Anomaly = { eventId: event.id, at: event.timestamp, severity, description, contractId, confidence };
      return { ...base, anomalies: keepNewest(state.anomalies, anomaly), timeline: keepNewest(state.timeline, event) };
    }
    case 'investigation_update': {
      const timeline = keepNewest(state.timeline, event);
      const data = event.data;
      switch (data.updateType) {
        case 'status':
          return { ...base, timeline, status: data.status, statusMessage: data.message ?? null };
        case 'progress':
          return { ...base, timeline, progress: data.progress, stage: data.stage ?? state.stage };
        case 'agent_finding': {
          const finding: Finding = {
            eventId: event.id,
            at: event.timestamp,
            agent: data.agent,
            finding: data.finding,
            details: data.details,
          };
          return { ...base, timeline, findings: keepNewest(state.findings, finding) };
        }
        case 'report_status':
          return { ...base, timeline, report: { status: data.status, url: data.url ?? null } };
      }
    }
  }
}

export const severityRank: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

// ---------------------------------------------------------------- analysis

export interface PartialResult {
  eventId: string;
  at: Date;
  result: unknown;
  sequence: number | null;
}

export interface AnalysisState {
  status: AnalysisStatus | null;
  progress: number | null;
  /** Oldest first. */
  results: PartialResult[];
  error: { code: string; message: string; at: Date } | null;
  lastEvent: AnalysisEvent | null;
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialAnalysisState: AnalysisState = {
  status: null,
  progress: null,
  results: [],
  error: null,
  lastEvent: null,
  lastEventId: null,
  resyncRequired: null,
};

export function reduceAnalysis(state: AnalysisState, event: AnalysisEvent): AnalysisState {
  if (!isNew(state.lastEventId, event)) return state;
  const base = { ...state, lastEvent: event, lastEventId: event.id };
  if (event.type === 'resync_required') {
    return { ...base, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
  }
  const data = event.data;
  switch (data.updateType) {
    case 'status':
      return { ...base, status: data.status, progress: data.progress ?? state.progress };
    case 'partial_result':
      return {
        ...base,
        results: keepNewest(state.results, {
          eventId: event.id,
          at: event.timestamp,
          result: data.result,
          sequence: data.sequence ?? null,
        }),
      };
    case 'error':
      return { ...base, error: { code: data.code, message: data.message, at: event.timestamp } };
  }
}

// ---------------------------------------------------------------- chat

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
  /** Oldest first. */
  messages: ChatMessage[];
  /** Replies being streamed, in the order they started. */
  streaming: StreamingReply[];
  /** Users typing now (by user id). */
  typing: string[];
  /** The last investigation event of an investigation the session watches. */
  lastInvestigationEvent: Extract<ChatEvent, { type: 'investigation_update' | 'anomaly_detected' }> | null;
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
  if (!isNew(state.lastEventId, event)) return state;
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

// ---------------------------------------------------------------- notifications

export interface NotificationItem {
  eventId: string;
  at: Date;
  title: string;
  body: string;
  level: NotificationLevel;
  link: string | null;
}

export interface NotificationsState {
  /** Newest first. */
  items: NotificationItem[];
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialNotificationsState: NotificationsState = { items: [], lastEventId: null, resyncRequired: null };

export function reduceNotifications(state: NotificationsState, event: NotificationEvent): NotificationsState {
  if (!isNew(state.lastEventId, event)) return state;
  if (event.type === 'resync_required') {
    return { ...state, lastEventId: event.id, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
  }
  const { title, body, level, link } = event.data;
  const item: NotificationItem = { eventId: event.id, at: event.timestamp, title, body, level, link: link ?? null };
  return {
    ...state,
    lastEventId: event.id,
    items: [item, ...state.items].slice(0, MAX_ITEMS),
  };
}
