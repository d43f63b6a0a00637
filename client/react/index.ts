/**
 * React bindings of the realtime client: a provider holding one client and
 * hooks reading the SDK's folded topics, one state and one server
 * subscription per topic per client however many components read it. The
 * types, states and reducers are the SDK's (`./client`), under the same
 * names. React is a peer dependency.
 */

export {
  type AnalysisState,
  type Anomaly,
  type ChatMessage,
  type ChatState,
  type Finding,
  type InvestigationState,
  initialAnalysisState,
  initialChatState,
  initialInvestigationState,
  initialNotificationsState,
  initialPresenceState,
  MAX_ITEMS,
  type NotificationEntry,
  type NotificationsState,
  type PartialResult,
  type PresenceState,
  type PresenceStatus,
  type ResyncInfo,
  reduceAnalysis,
  reduceChat,
  reduceInvestigation,
  reduceNotifications,
  reducePresence,
  type StreamingReply,
  type SubscriptionStatus,
  severityRank,
} from '../index';
export type * from '../sdk/types';
export { RealtimeProvider, useConnectionState, useRealtimeClient } from './provider';
export type { RealtimeError } from './realtimeError';
export { type AnalysisUpdates, useAnalysisUpdates } from './useAnalysisUpdates';
export { type Chat, useChat } from './useChat';
export { type InvestigationUpdates, useInvestigationUpdates } from './useInvestigationUpdates';
export { type Notifications, type NotificationsOptions, useNotifications } from './useNotifications';
export { usePresence } from './usePresence';
export type { StreamControls } from './useTopicFold';
