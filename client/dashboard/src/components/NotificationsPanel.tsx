import type { Notifications } from '../../../react/index';
import { formatTime } from '../format';
import { safeHref } from '../safeHref';
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
              {n.link && <NotificationLink link={n.link} />}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

/**
 * A notification's link: an http(s) URL, or a path such as
 * `/investigations/inv-1`, which the browser resolves against this page's
 * origin (safeHref.ts).
 */
function NotificationLink({ link }: { link: string }) {
  const href = safeHref(link);
  if (href === null) return null;
  return (
    <a className="link small" href={href} target="_blank" rel="noreferrer noopener" data-testid="notification-link">
      Open
    </a>
  );
}
