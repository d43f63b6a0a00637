import { useMemo } from 'react';
import type { AnalysisState } from '../sdk/analysisState';
import { analysisFold } from '../sdk/folds';
import { useRealtimeClient } from './provider';
import { type StreamControls, useTopicFold } from './useTopicFold';

export type AnalysisUpdates = AnalysisState & StreamControls;

/** An analysis, live: status (`failed` after an error) and progress, partial results in order, the last error. Null: nothing. */
export function useAnalysisUpdates(analysisId: string | null): AnalysisUpdates {
  const client = useRealtimeClient();
  const folded = useMemo(() => (analysisId === null ? null : client.analysis(analysisId).fold(analysisFold)), [client, analysisId]);
  const [state, controls] = useTopicFold(folded, analysisFold);
  return { ...state, ...controls };
}
