import { useCallback, useMemo, useState } from 'react';
import { compareEventIds } from '../../shared/eventIdOrder';
import { notificationsFold, retainedNotificationsFold } from '../sdk/folds';
import type { NotificationsState } from '../sdk/notificationsState';
import { useRealtimeClient } from './provider';
import { type StreamControls, useTopicFold } from './useTopicFold';

export interface Notifications extends NotificationsState, StreamControls {
  /** How many arrived since this component's last `markAllRead()`. */
  unread: number;
  markAllRead: () => void;
}

export interface NotificationsOptions {
  /**
   * `undelivered` (the default): what the server has not delivered to this
   * user yet (also what arrived while offline), once, then live.
   * `retained`: everything the server still keeps, then live.
   */
  replay?: 'undelivered' | 'retained';
  /** False: subscribe to nothing (`subscription` is `idle`). */
  enabled?: boolean;
}

/** The signed-in user's notifications, newest first; one state per `replay` choice, shared by the components showing it. */
export function useNotifications(opts: NotificationsOptions = {}): Notifications {
  const client = useRealtimeClient();
  const spec = opts.replay === 'retained' ? retainedNotificationsFold : notificationsFold;
  const enabled = opts.enabled !== false;
  const folded = useMemo(() => (enabled ? client.notifications().fold(spec) : null), [client, enabled, spec]);
  const [state, controls] = useTopicFold(folded, spec);
  const [readThrough, setReadThrough] = useState<string | null>(null);
  const newest = state.items[0]?.eventId ?? null;
  const markAllRead = useCallback(() => setReadThrough(newest), [newest]);
  const unread = state.items.filter((item) => readThrough === null || compareEventIds(item.eventId, readThrough) > 0).length;
  return { ...state, ...controls, unread, markAllRead };
}
