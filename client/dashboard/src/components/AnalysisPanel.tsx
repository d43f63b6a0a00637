import type { AnalysisUpdates } from '../../../react/index';
import { capitalize, formatJson, formatPercent, formatTime } from '../format';
import { Card, Empty, Pill, ProgressBar, StreamNotices } from './common';

const tone = { pending: 'neutral', running: 'info', completed: 'success', failed: 'danger' } as const;

/** One analysis: status and progress, its partial results as they come, and its last error. */
export function AnalysisPanel({ id, analysis }: { id: string; analysis: AnalysisUpdates }) {
  return (
    <Card
      title="Analysis"
      className="area-analysis"
      testId="analysis-panel"
      subtitle={<code className="entity-id">{id}</code>}
      actions={
        analysis.status ? (
          <Pill tone={tone[analysis.status]} testId="analysis-status" value={analysis.status}>
            {capitalize(analysis.status)}
          </Pill>
        ) : (
          <Pill tone="neutral" testId="analysis-status" value="">
            No status yet
          </Pill>
        )
      }
    >
      <StreamNotices
        subscription={analysis.subscription}
        error={analysis.subscriptionError}
        resyncRequired={analysis.resyncRequired}
        onResync={analysis.resync}
        testIdPrefix="analysis"
      />
      <div className="metric-row">
        <span className="metric-value small-metric">{analysis.progress === null ? '—' : formatPercent(analysis.progress)}</span>
        <span className="metric-label">
          {analysis.results.length} partial {analysis.results.length === 1 ? 'result' : 'results'}
        </span>
      </div>
      <ProgressBar value={analysis.progress} testId="analysis-progress" label="Analysis progress" />
      {analysis.error && (
        <p className="notice notice-error" data-testid="analysis-failure">
          <strong>{analysis.error.code}</strong> {analysis.error.message}
        </p>
      )}
      {analysis.results.length === 0 ? (
        <Empty>No partial results yet.</Empty>
      ) : (
        <ol className="results scroll">
          {[...analysis.results].reverse().map((r) => (
            <li key={r.eventId} data-testid="analysis-result">
              <span className="result-seq">#{r.sequence ?? '–'}</span>
              <span className="result-value">{formatJson(r.result)}</span>
              <time className="muted small">{formatTime(r.at)}</time>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}
