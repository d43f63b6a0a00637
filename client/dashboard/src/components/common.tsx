import type { ReactNode } from 'react';
import type { RealtimeError, ResyncInfo, SubscriptionStatus } from '../../../react/index';
import { capitalize } from '../format';

export function Card(props: { title: string; subtitle?: ReactNode; actions?: ReactNode; className?: string; testId?: string; children: ReactNode }) {
  return (
    <section className={`card ${props.className ?? ''}`} data-testid={props.testId}>
      <header className="card-header">
        <div>
          <h2>{props.title}</h2>
          {props.subtitle && <div className="card-subtitle">{props.subtitle}</div>}
        </div>
        {props.actions && <div className="card-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** A status word in a colored pill; `tone` picks the color. */
export function Pill(props: { tone: 'neutral' | 'info' | 'success' | 'warning' | 'danger'; testId?: string; value?: string; children: ReactNode }) {
  return (
    <span className={`pill pill-${props.tone}`} data-testid={props.testId} data-status={props.value}>
      {props.children}
    </span>
  );
}

export function ProgressBar(props: { value: number | null; testId: string; label: string }) {
  const value = props.value ?? 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={props.value ?? undefined}
      data-testid={props.testId}
      data-value={props.value ?? ''}
    >
      <div className="progress-fill" style={{ width: `${Math.max(0, Math.min(100, value))}%` }} />
    </div>
  );
}

/** Why a panel shows nothing: refused, still subscribing, or history no longer complete. */
export function StreamNotices(props: {
  subscription: SubscriptionStatus;
  error: RealtimeError | null;
  resyncRequired: ResyncInfo | null;
  onResync: () => void;
  testIdPrefix: string;
}) {
  const { subscription, error, resyncRequired: resync, onResync, testIdPrefix } = props;
  return (
    <>
      {subscription === 'error' && error && (
        <p className="notice notice-error" role="alert" data-testid={`${testIdPrefix}-error`}>
          {error.code === 'FORBIDDEN' ? 'Your token does not grant access to this.' : capitalize(error.message)}
          {error.reason && <code className="notice-code">{error.reason}</code>}
          <button type="button" className="button button-small" onClick={onResync}>
            Retry
          </button>
        </p>
      )}
      {resync && (
        <p className="notice notice-warning" role="alert" data-testid={`${testIdPrefix}-resync`}>
          Some events are no longer retained by the server ({resync.reason === 'history_trimmed' ? 'history trimmed' : 'unknown event id'}); what
          is shown may be incomplete.
          <button type="button" className="button button-small" onClick={onResync}>
            Reload history
          </button>
        </p>
      )}
    </>
  );
}

export function Empty(props: { children: ReactNode; testId?: string }) {
  return (
    <p className="empty" data-testid={props.testId}>
      {props.children}
    </p>
  );
}
