import type { AnalysisUpdates } from '../../../react/index';
import { formatJson, formatPercent, formatTime } from '../format';
import { Empty, JobCard, ProgressBar } from './common';

/** One analysis: status and progress, its partial results as they come, and its last error. */
export function AnalysisPanel({ id, analysis }: { id: string; analysis: AnalysisUpdates }) {
  return (
    <JobCard title="Analysis" name="analysis" id={id} className="area-analysis" stream={analysis}>
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
    </JobCard>
  );
}
