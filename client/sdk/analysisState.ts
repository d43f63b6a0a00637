import { isNewEvent, keepNewest, type ResyncInfo } from '../../shared/eventFold';
import type { AnalysisEvent, AnalysisStatus } from './types';

/** The fold of an analysis' events (see shared/eventFold.ts for the rules every fold follows). */

export interface PartialResult {
  eventId: string;
  at: Date;
  result: unknown;
  sequence: number | null;
}

export interface AnalysisState {
  /** The last status update's; `failed` after an error, until a later status update says otherwise. */
  status: AnalysisStatus | null;
  progress: number | null;
  /** Oldest first, the newest MAX_ITEMS. */
  results: PartialResult[];
  /** The last error reported. */
  error: { code: string; message: string; at: Date } | null;
  lastEvent: AnalysisEvent | null;
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed; call `resync()`. */
  resyncRequired: ResyncInfo | null;
}

export const initialAnalysisState: AnalysisState = {
  status: null,
  progress: null,
  results: [],
  error: null,
  lastEvent: null,
  lastEventId: null,
  resyncRequired: null,
};

export function reduceAnalysis(state: AnalysisState, event: AnalysisEvent): AnalysisState {
  if (!isNewEvent(state.lastEventId, event)) return state;
  const base = { ...state, lastEvent: event, lastEventId: event.id };
  if (event.type === 'resync_required') {
    return { ...base, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
  }
  const data = event.data;
  switch (data.updateType) {
    case 'status':
      return { ...base, status: data.status, progress: data.progress ?? state.progress };
    case 'partial_result':
      return {
        ...base,
        results: keepNewest(state.results, {
          eventId: event.id,
          at: event.timestamp,
          result: data.result,
          sequence: data.sequence ?? null,
        }),
      };
    case 'error':
      // An analysis that reports an error has failed, unless a later status update says otherwise (a retry).
      return { ...base, status: 'failed', error: { code: data.code, message: data.message, at: event.timestamp } };
  }
}
