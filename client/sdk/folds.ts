import { type InvestigationState, initialInvestigationState, reduceInvestigation } from '../../shared/investigationState';
import { type AnalysisState, initialAnalysisState, reduceAnalysis } from './analysisState';
import { type ChatState, initialChatState, reduceChat } from './chatState';
import { initialNotificationsState, type NotificationsState, reduceNotifications } from './notificationsState';
import type { FoldSpec } from './topicFold';
import type { AnalysisEvent, ChatEvent, InvestigationEvent, NotificationEvent } from './types';

/**
 * The folds the React hooks read, one state per topic per client:
 * `client.investigation(id).fold(investigationFold)` gives the same state in
 * Node.js. A topic's fold replays what the server retains, so a page opened
 * mid-investigation shows all of it.
 */
export const investigationFold: FoldSpec<InvestigationEvent, InvestigationState> = {
  name: 'investigation',
  initial: initialInvestigationState,
  reduce: reduceInvestigation,
  replay: 'retained',
};

export const analysisFold: FoldSpec<AnalysisEvent, AnalysisState> = {
  name: 'analysis',
  initial: initialAnalysisState,
  reduce: reduceAnalysis,
  replay: 'retained',
};

export const chatFold: FoldSpec<ChatEvent, ChatState> = {
  name: 'chat',
  initial: initialChatState,
  reduce: reduceChat,
  replay: 'retained',
};

/** What the server has not delivered to this user yet (also what came while offline), once, then live. */
export const notificationsFold: FoldSpec<NotificationEvent, NotificationsState> = {
  name: 'notifications',
  initial: initialNotificationsState,
  reduce: reduceNotifications,
};

/** Everything the server still keeps of this user's notifications, then live. */
export const retainedNotificationsFold: FoldSpec<NotificationEvent, NotificationsState> = {
  name: 'notifications:retained',
  initial: initialNotificationsState,
  reduce: reduceNotifications,
  replay: 'retained',
};
