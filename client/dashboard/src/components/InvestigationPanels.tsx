import type { ReactNode } from 'react';
import type { Anomaly, InvestigationEvent, InvestigationUpdates, Severity } from '../../../react/index';
import { formatJson, formatPercent, formatTime } from '../format';
import { safeHref } from '../safeHref';
import { Card, Empty, JobCard, ProgressBar, StatusPill } from './common';

const reportTone = { queued: 'neutral', generating: 'info', ready: 'success', failed: 'danger' } as const;

/** Status, progress, report and the agents' findings of one investigation. */
export function InvestigationOverview({ id, inv, children }: { id: string; inv: InvestigationUpdates; children?: ReactNode }) {
  const reportHref = inv.report?.url ? safeHref(inv.report.url) : null;
  return (
    <JobCard title="Investigation" name="investigation" id={id} className="area-overview" stream={inv}>
      <div className="overview-grid">
        <div className="overview-progress">
          <div className="metric-row">
            <span className="metric-value" data-testid="investigation-progress-text">
              {inv.progress === null ? '—' : formatPercent(inv.progress)}
            </span>
            <span className="metric-label" data-testid="investigation-stage">
              {/* A progress update may come without a stage: the percentage then stands alone (or with the last stage). */}
              {inv.progress === null ? 'waiting for the first progress update' : inv.stage}
            </span>
          </div>
          <ProgressBar value={inv.progress} testId="investigation-progress" label="Investigation progress" />
          {inv.statusMessage && <p className="muted small">{inv.statusMessage}</p>}
          <div className="report-row">
            <span className="muted small">Report</span>
            <StatusPill status={inv.report?.status} tones={reportTone} testId="report-status" fallback="Not started" />
            {reportHref !== null && (
              <a className="link small" href={reportHref} target="_blank" rel="noreferrer noopener">
                Open report
              </a>
            )}
          </div>
        </div>
        <div className="overview-findings">
          <h3>Agent findings</h3>
          {inv.findings.length === 0 ? (
            <Empty>No findings yet.</Empty>
          ) : (
            <ul className="findings" data-testid="findings-list">
              {[...inv.findings].reverse().map((f) => (
                <li key={f.eventId} data-testid="finding">
                  <span className="finding-agent">{f.agent}</span>
                  <span className="finding-text">{f.finding}</span>
                  <time className="muted small">{formatTime(f.at)}</time>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
      {children}
    </JobCard>
  );
}

function SeverityBadge({ severity }: { severity: Severity }) {
  return (
    <span className={`severity severity-${severity}`} data-testid="severity-badge" data-severity={severity}>
      {severity === 'critical' && (
        <span aria-hidden="true" className="severity-icon">
          !
        </span>
      )}
      {severity.toUpperCase()}
    </span>
  );
}

const severities: Severity[] = ['critical', 'high', 'medium', 'low'];

/** Most severe first, then newest first within a severity (`anomalies` comes oldest first). */
function bySeverity(anomalies: Anomaly[]): Anomaly[] {
  const newestFirst = [...anomalies].reverse();
  return severities.flatMap((s) => newestFirst.filter((a) => a.severity === s));
}

/** Anomalies by severity, then newest first; critical ones stand out (red, with an icon and a count in the header). */
export function AnomalyAlerts({ anomalies }: { anomalies: Anomaly[] }) {
  const counts = anomalies.reduce<Record<Severity, number>>(
    (acc, a) => {
      acc[a.severity] += 1;
      return acc;
    },
    {
      low: 0,
      medium: 0,
      high: 0,
      critical: 0,
    },
  );
  const ordered = severities.filter((s) => counts[s] > 0);
  return (
    <Card
      title="Anomaly alerts"
      className="area-anomalies"
      testId="anomalies-panel"
      actions={
        <div className="severity-counts">
          {ordered.map((s) => (
            <span key={s} className={`count count-${s}`} title={`${counts[s]} ${s}`}>
              {counts[s]} {s}
            </span>
          ))}
        </div>
      }
    >
      {anomalies.length === 0 ? (
        <Empty>No anomalies detected.</Empty>
      ) : (
        <ul className="alerts scroll">
          {bySeverity(anomalies).map((a) => (
            <li
              key={a.eventId}
              className={`alert alert-${a.severity}`}
              data-testid="anomaly-alert"
              data-severity={a.severity}
              role={a.severity === 'critical' ? 'alert' : undefined}
            >
              <div className="alert-head">
                <SeverityBadge severity={a.severity} />
                <span className="alert-contract">Contract {a.contractId}</span>
                <span className="alert-confidence" title="confidence">
                  {formatPercent(a.confidence * 100)} confidence
                </span>
              </div>
              <p className="alert-description">{a.description}</p>
              <time className="muted small">{formatTime(a.at)}</time>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function describeEvent(event: InvestigationEvent): { kind: string; text: string } {
  switch (event.type) {
    case 'anomaly_detected':
      return { kind: 'anomaly', text: `${event.data.severity}: ${event.data.description} (contract ${event.data.contractId})` };
    case 'resync_required':
      return { kind: 'resync', text: 'history no longer complete' };
    case 'investigation_update': {
      const d = event.data;
      switch (d.updateType) {
        case 'status':
          return { kind: 'status', text: `${d.status}${d.message ? ` — ${d.message}` : ''}` };
        case 'progress':
          return { kind: 'progress', text: `${formatPercent(d.progress)}${d.stage ? ` · ${d.stage}` : ''}` };
        case 'agent_finding':
          return { kind: 'finding', text: `${d.agent}: ${d.finding}${d.details ? ` ${formatJson(d.details)}` : ''}` };
        case 'report_status':
          return { kind: 'report', text: d.status };
      }
    }
  }
}

/** Every event of the investigation, newest first, as it arrived. */
export function Timeline({ events }: { events: InvestigationEvent[] }) {
  return (
    <Card
      title="Live timeline"
      className="area-timeline"
      testId="timeline-panel"
      subtitle={`${events.length} ${events.length === 1 ? 'event' : 'events'}`}
    >
      {events.length === 0 ? (
        <Empty>Waiting for events…</Empty>
      ) : (
        <ol className="timeline scroll" data-testid="timeline">
          {[...events].reverse().map((event) => {
            const { kind, text } = describeEvent(event);
            const severity = event.type === 'anomaly_detected' ? event.data.severity : undefined;
            return (
              <li
                key={event.id}
                className={`timeline-item${severity ? ` timeline-${severity}` : ''}`}
                data-testid="timeline-event"
                data-event-id={event.id}
                data-kind={kind}
              >
                <time>{formatTime(event.timestamp)}</time>
                <span className="timeline-kind">{kind}</span>
                <span className="timeline-text">{text}</span>
              </li>
            );
          })}
        </ol>
      )}
    </Card>
  );
}
