/**
 * The TypeScript SDK of the real-time API: `createRealtimeClient` gives the
 * typed tRPC client over one WebSocket that reconnects (backoff with full
 * jitter, a fresh token each time) and resumes every subscription from its
 * last event id (or, where WebSockets are blocked, over Server-Sent Events
 * and HTTP, with the same semantics), an observable connection state,
 * per-topic event emitters and per-topic folded state (what the React hooks
 * read). Every event type is
 * inferred from AppRouter (sdk/types.ts); `./client/react` exports the same
 * names with the same meaning. `createRealtimePublisher` is the publishing
 * side for TypeScript backends (an idempotency key per call, safe retries).
 * Browser-safe: nothing here imports Node.js modules or zod.
 */

export type { ResyncInfo } from '../shared/eventFold';
export { MAX_ITEMS } from '../shared/eventFold';
export {
  type Anomaly,
  type Finding,
  type InvestigationState,
  initialInvestigationState,
  reduceInvestigation,
  severityRank,
} from '../shared/investigationState';
export type { ConnectionType } from '../shared/paths';
export {
  type AnalysisUpdateInput,
  type AnomalyInput,
  createRealtimePublisher,
  type InvestigationUpdateInput,
  type NotificationInput,
  type PublisherAuth,
  type RealtimePublisher,
  type RealtimePublisherOptions,
} from './publisher';
export { type AnalysisState, initialAnalysisState, type PartialResult, reduceAnalysis } from './sdk/analysisState';
export { type Backoff, type BackoffOptions, backoffCap, backoffDefaults, backoffDelay, resolveBackoff } from './sdk/backoff';
export { type ChatMessage, type ChatState, initialChatState, reduceChat, type StreamingReply } from './sdk/chatState';
export type { ConnectionState, ConnectionStatus, StateListener } from './sdk/connectionState';
export { createRealtimeClient, type RealtimeClient, type RealtimeClientOptions } from './sdk/createRealtimeClient';
export { analysisFold, chatFold, investigationFold, notificationsFold, retainedNotificationsFold } from './sdk/folds';
export {
  initialNotificationsState,
  type NotificationEntry,
  type NotificationsState,
  reduceNotifications,
} from './sdk/notificationsState';
export {
  initialPresenceState,
  type PresenceState,
  type PresenceStatus,
  PresenceWatches,
  reducePresence,
} from './sdk/presenceState';
export { type Disconnect, decideReconnect, type ReconnectDecision } from './sdk/reconnectPolicy';
export type { ResumeStorage } from './sdk/resumeStore';
export type { EventSourceClass, Transport, TransportOption } from './sdk/sseTransport';
export type { FoldedTopic, FoldSnapshot, FoldSpec, SubscriptionStatus } from './sdk/topicFold';
export type { SubscribeOptions, Topic, TopicObserver, TopicStats, Unsubscribe } from './sdk/topicRegistry';
export type { WebSocketClass } from './sdk/trackedWebSocket';
export type * from './sdk/types';
