import { isNewEvent, MAX_ITEMS, type ResyncInfo } from '../../shared/eventFold';
import type { NotificationEvent, NotificationLevel } from './types';

/** The fold of the user's notifications (see shared/eventFold.ts for the rules every fold follows). */

/** One notification in the list (the event it came from is a `NotificationItem`'s `data`). */
export interface NotificationEntry {
  eventId: string;
  at: Date;
  title: string;
  body: string;
  level: NotificationLevel;
  link: string | null;
}

export interface NotificationsState {
  /** Newest first, the newest MAX_ITEMS. */
  items: NotificationEntry[];
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialNotificationsState: NotificationsState = { items: [], lastEventId: null, resyncRequired: null };

export function reduceNotifications(state: NotificationsState, event: NotificationEvent): NotificationsState {
  if (!isNewEvent(state.lastEventId, event)) return state;
  if (event.type === 'resync_required') {
    return { ...state, lastEventId: event.id, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
  }
  const { title, body, level, link } = event.data;
  const entry: NotificationEntry = { eventId: event.id, at: event.timestamp, title, body, level, link: link ?? null };
  return { ...state, lastEventId: event.id, items: [entry, ...state.items].slice(0, MAX_ITEMS) };
}
