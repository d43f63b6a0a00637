/**
 * What the declaration bundle exports: the router's type, for a frontend's
 * `createTRPCClient<AppRouter>`, and the event types it may name.
 */
export type { AppRouter } from '../../server/routers';
export type {
  AnalysisEvent,
  ChatEvent,
  EventOfType,
  EventType,
  InvestigationEvent,
  NotificationEvent,
  RealtimeEvent,
} from '../../shared/events';
