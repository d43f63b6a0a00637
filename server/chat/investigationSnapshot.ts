import type { RealtimeEvent } from '../../shared/events';
import { type InvestigationState, initialInvestigationState, reduceInvestigation } from '../../shared/investigationState';

/**
 * What the server has seen of one investigation: the same fold the React hooks
 * show (shared/investigationState.ts), with the investigation's id and whether
 * the history it was folded from is whole.
 */
export interface InvestigationSnapshot extends InvestigationState {
  investigationId: string;
  /** False when the oldest events were trimmed: the state and the counts cover the retained history only. */
  complete: boolean;
}

/** Folds an investigation's events, oldest first, into its current state. */
export function snapshotInvestigation(investigationId: string, events: readonly RealtimeEvent[], complete: boolean): InvestigationSnapshot {
  let state = initialInvestigationState;
  for (const event of events) {
    if (event.type === 'investigation_update' || event.type === 'anomaly_detected') state = reduceInvestigation(state, event);
  }
  return { ...state, investigationId, complete };
}
