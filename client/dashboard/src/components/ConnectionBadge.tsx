import { useConnectionState } from '../../../react/index';
import { formatDelay } from '../format';

/** The connection as the user should read it; `data-state` is the raw state for tests and styling. */
export function ConnectionBadge() {
  const state = useConnectionState();
  let label: string;
  let detail: string | null = null;
  switch (state.status) {
    case 'connecting':
      label = 'Connecting…';
      break;
    case 'open':
      label = 'Live';
      break;
    case 'reconnecting':
      label = `Reconnecting · attempt ${state.attempt}`;
      detail = `next try in ${formatDelay(state.nextDelayMs)}${state.code ? ` · closed with ${state.code}` : ''}`;
      break;
    case 'closed':
      label = 'Disconnected';
      detail = [state.code ? `code ${state.code}` : null, state.reason || null].filter(Boolean).join(' · ') || null;
      break;
  }
  return (
    <div
      className={`connection connection-${state.status}`}
      data-testid="connection-state"
      data-state={state.status}
      data-attempt={state.status === 'reconnecting' ? state.attempt : undefined}
      role="status"
      aria-live="polite"
    >
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-label">{label}</span>
      {detail && (
        <span className="connection-detail" data-testid="connection-detail">
          {detail}
        </span>
      )}
    </div>
  );
}
