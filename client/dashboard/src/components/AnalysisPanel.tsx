import type { AnalysisUpdates } from '../../../react/index';
import { formatJson, formatPercent, formatTime } from '../format';
import { Empty, JobCard, ProgressBar } from './common';

/**
 * One analysis: status and progress, its partial results as they come, and its
 * last error. An error update makes the analysis `failed` (the reducer's rule,
 * until a later status update says otherwise): the failure then heads the panel
 * in red, and an error the analysis moved past stays visible as a warning.
 */
export function AnalysisPanel({ id, analysis }: { id: string; analysis: AnalysisUpdates }) {
  const failed = analysis.status === 'failed';
  return (
    <JobCard title="Analysis" name="analysis" id={id} className="area-analysis" stream={analysis}>
      <div className="metric-row">
        <span className="metric-value small-metric">{analysis.progress === null ? '—' : formatPercent(analysis.progress)}</span>
        <span className="metric-label">
          {analysis.results.length} partial {analysis.results.length === 1 ? 'result' : 'results'}
        </span>
      </div>
      <ProgressBar value={analysis.progress} testId="analysis-progress" label="Analysis progress" failed={failed} />
      {analysis.error && (
        <div
          className={`notice ${failed ? 'notice-error' : 'notice-warning'} analysis-error`}
          role={failed ? 'alert' : undefined}
          data-testid="analysis-failure"
          data-failed={failed}
        >
          <strong>{failed ? 'Analysis failed' : 'Earlier error'}</strong>
          <code className="notice-code">{analysis.error.code}</code>
          <span>{analysis.error.message}</span>
          <time className="small">{formatTime(analysis.error.at)}</time>
        </div>
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
