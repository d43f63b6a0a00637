import type { PresenceState } from '../../../react/index';
import { formatTime } from '../format';

/** Who is watching this investigation now, on every node: user ids and their connections (tabs). */
export function WatchingNow({ presence, selfUserId }: { presence: PresenceState; selfUserId: string | null }) {
  const { members, total, status, error } = presence;
  return (
    <div className="watching" data-testid="presence-panel" data-status={status} data-total={total}>
      <h3>
        Watching now{' '}
        <span className="muted small" data-testid="presence-total">
          {status === 'live' ? total : '—'}
        </span>
      </h3>
      {status === 'error' ? (
        <p className="muted small" data-testid="presence-error">
          Not available ({String(error?.data?.reason ?? error?.message ?? 'error')}).
        </p>
      ) : status !== 'live' ? (
        <p className="muted small">Connecting…</p>
      ) : (
        <ul className="watchers" data-testid="presence-list">
          {members.map((m) => (
            <li
              key={m.userId}
              className="watcher"
              data-testid="presence-member"
              data-user={m.userId}
              data-connections={m.connections}
              title={`since ${formatTime(m.since)}`}
            >
              <span className="watcher-id">{m.userId}</span>
              {m.userId === selfUserId && <span className="muted small"> (you)</span>}
              {m.connections > 1 && <span className="watcher-count">×{m.connections}</span>}
            </li>
          ))}
          {total > members.length && <li className="watcher muted small">and {total - members.length} more</li>}
        </ul>
      )}
    </div>
  );
}
