/**
 * React bindings of the realtime client: a provider holding one client and
 * hooks that fold each subscription into state. React is a peer dependency.
 */

export {
  type AnalysisUpdates,
  type Chat,
  type InvestigationUpdates,
  type Notifications,
  type RealtimeError,
  type StreamControls,
  type SubscriptionStatus,
  useAnalysisUpdates,
  useChat,
  useInvestigationUpdates,
  useNotifications,
} from './hooks';
export { RealtimeProvider, useConnectionState, useRealtimeClient } from './provider';
export * from './state';
export type * from './types';
