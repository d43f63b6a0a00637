import type { Notifications } from '../../../react/index';
import { formatTime } from '../format';
import { Card, Empty, StreamNotices } from './common';

/** The user's notifications, newest first, with an unread count. */
export function NotificationsPanel({ notifications }: { notifications: Notifications }) {
  const { items, unread } = notifications;
  return (
    <Card
      title="Notifications"
      className="area-notifications"
      testId="notifications-panel"
      actions={
        <>
          <span className={`unread${unread > 0 ? ' unread-some' : ''}`} data-testid="notification-count" data-count={unread}>
            {unread} new
          </span>
          {unread > 0 && (
            <button type="button" className="button button-small button-ghost" onClick={notifications.markAllRead}>
              Mark read
            </button>
          )}
        </>
      }
    >
      <StreamNotices stream={notifications} testIdPrefix="notifications" />
      {items.length === 0 ? (
        <Empty>Nothing yet.</Empty>
      ) : (
        <ul className="notifications scroll">
          {items.map((n) => (
            <li key={n.eventId} className={`notification notification-${n.level}`} data-testid="notification" data-level={n.level}>
              <div className="notification-head">
                <strong>{n.title}</strong>
                <time className="muted small">{formatTime(n.at)}</time>
              </div>
              <p>{n.body}</p>
              {n.link && (
                <a className="link small" href={n.link} target="_blank" rel="noreferrer noopener">
                  Open
                </a>
              )}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
