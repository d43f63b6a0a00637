import { useMemo } from 'react';
import type { InvestigationState } from '../../shared/investigationState';
import { investigationFold } from '../sdk/folds';
import { useRealtimeClient } from './provider';
import { type StreamControls, useTopicFold } from './useTopicFold';

export type InvestigationUpdates = InvestigationState & StreamControls;

/**
 * An investigation, live: status, progress and stage, agent findings, report
 * status, anomalies (listed, and counted by severity over the whole history),
 * the timeline, the last event, and `resyncRequired` when the server could no
 * longer replay what was missed. The state starts from everything the server
 * retains. Pass null to subscribe to nothing.
 */
export function useInvestigationUpdates(investigationId: string | null): InvestigationUpdates {
  const client = useRealtimeClient();
  const folded = useMemo(
    () => (investigationId === null ? null : client.investigation(investigationId).fold(investigationFold)),
    [client, investigationId],
  );
  const [state, controls] = useTopicFold(folded, investigationFold);
  return { ...state, ...controls };
}
