import type { ReactNode } from 'react';
import type { RealtimeError, ResyncInfo, SubscriptionStatus } from '../../../react/index';
import { capitalize } from '../format';

export function Card(props: {
  title: string;
  subtitle?: ReactNode;
  actions?: ReactNode;
  className?: string;
  testId?: string;
  children: ReactNode;
}) {
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
function Pill(props: { tone: Tone; testId?: string; value?: string; children: ReactNode }) {
  return (
    <span className={`pill pill-${props.tone}`} data-testid={props.testId} data-status={props.value}>
      {props.children}
    </span>
  );
}

export function ProgressBar(props: { value: number | null; testId: string; label: string; failed?: boolean }) {
  const value = props.value ?? 0;
  return (
    <div
      className={props.failed ? 'progress progress-failed' : 'progress'}
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

type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger';

/** A status as a pill colored by `tones`, or a neutral `fallback` while there is none yet. */
export function StatusPill<S extends string>(props: {
  status: S | null | undefined;
  tones: Record<S, Tone>;
  testId: string;
  fallback: string;
}) {
  const { status, tones, testId, fallback } = props;
  return status ? (
    <Pill tone={tones[status]} testId={testId} value={status}>
      {capitalize(status)}
    </Pill>
  ) : (
    <Pill tone="neutral" testId={testId} value="">
      {fallback}
    </Pill>
  );
}

/** The colors of a job's lifecycle (an investigation's, an analysis's). */
export const jobStatusTone = {
  pending: 'neutral',
  running: 'info',
  completed: 'success',
  failed: 'danger',
  cancelled: 'neutral',
} as const satisfies Record<string, Tone>;

/**
 * The card of one watched job: its id under the title, its status as a pill,
 * and the notices of its stream. Test ids: `<name>-panel`, `<name>-status`, `<name>-error`...
 */
export function JobCard(props: {
  title: string;
  name: string;
  id: string;
  className: string;
  stream: StreamState & { status: keyof typeof jobStatusTone | null };
  children: ReactNode;
}) {
  const { title, name, id, className, stream, children } = props;
  return (
    <Card
      title={title}
      className={className}
      testId={`${name}-panel`}
      subtitle={<code className="entity-id">{id}</code>}
      actions={<StatusPill status={stream.status} tones={jobStatusTone} testId={`${name}-status`} fallback="No status yet" />}
    >
      <StreamNotices stream={stream} testIdPrefix={name} />
      {children}
    </Card>
  );
}

/** The product mark, on the sign-in card and in the top bar. */
export function Brand(props: { className?: string }) {
  return (
    <div className={props.className ? `brand ${props.className}` : 'brand'}>
      <span className="brand-mark" aria-hidden="true">
        C
      </span>
      <span>
        Cidadão.AI <strong>Realtime</strong>
      </span>
    </div>
  );
}

/** What every stream hook returns about its subscription. */
interface StreamState {
  subscription: SubscriptionStatus;
  subscriptionError: RealtimeError | null;
  resyncRequired: ResyncInfo | null;
  resync: () => void;
}

/** Why a panel shows nothing: refused, still subscribing, or history no longer complete. */
export function StreamNotices(props: { stream: StreamState; testIdPrefix: string }) {
  const { subscription, subscriptionError: error, resyncRequired: resync, resync: onResync } = props.stream;
  const { testIdPrefix } = props;
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
          Some events are no longer retained by the server ({resync.reason === 'history_trimmed' ? 'history trimmed' : 'unknown event id'});
          what is shown may be incomplete.
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
