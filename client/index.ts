/**
 * The TypeScript SDK of the real-time API: `createRealtimeClient` gives the
 * typed tRPC client over one WebSocket that reconnects (backoff with full
 * jitter, a fresh token each time) and resumes every subscription from its
 * last event id, an observable connection state, and per-topic event emitters.
 * Browser-safe: nothing here imports Node.js modules.
 */

export type { ConnectionType } from '../shared/paths';
export { type Backoff, type BackoffOptions, backoffCap, backoffDefaults, backoffDelay, resolveBackoff } from './sdk/backoff';
export type { ConnectionState, ConnectionStatus, StateListener } from './sdk/connectionState';
export { createRealtimeClient, type RealtimeClient, type RealtimeClientOptions } from './sdk/createRealtimeClient';
export { type Disconnect, decideReconnect, type ReconnectDecision } from './sdk/reconnectPolicy';
export type { ResumeStorage } from './sdk/resumeStore';
export type { Topic, TopicObserver, Unsubscribe } from './sdk/topicEmitter';
export type { WebSocketClass } from './sdk/trackedWebSocket';
export type {
  AnalysisEvent,
  AnalysisItem,
  AppRouter,
  ChatEvent,
  ChatItem,
  EventOf,
  InvestigationEvent,
  InvestigationItem,
  NotificationEvent,
  NotificationItem,
  RealtimeClientError,
  RealtimeTRPCClient,
} from './sdk/types';
