import { isNewEvent, keepNewest, type ResyncInfo } from './eventFold';
import type { AnomalyData, InvestigationEvent, InvestigationUpdateData } from './events';

/**
 * The one fold of an investigation's events: what the React hooks show and
 * what the chat assistant answers from (server/chat/investigationSnapshot.ts).
 * Zod-free, with type-only imports from events.ts, so the browser bundle
 * carries no schema library.
 */

type Severity = AnomalyData['severity'];
type UpdateOf<T extends InvestigationUpdateData['updateType']> = Extract<InvestigationUpdateData, { updateType: T }>;

/** Severities from least to most severe: sort and compare with this one order. */
export const severityRank: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

export interface Finding {
  eventId: string;
  at: Date;
  agent: string;
  finding: string;
  details?: Record<string, unknown>;
}

export interface Anomaly {
  eventId: string;
  at: Date;
  severity: Severity;
  description: string;
  contractId: string;
  confidence: number;
}

export interface InvestigationState {
  status: UpdateOf<'status'>['status'] | null;
  statusMessage: string | null;
  /** Percent, 0–100; null before the first progress update; 100 once completed. */
  progress: number | null;
  stage: string | null;
  /** Oldest first, the newest MAX_ITEMS. */
  findings: Finding[];
  report: { status: UpdateOf<'report_status'>['status']; url: string | null } | null;
  /** Oldest first, the newest MAX_ITEMS. */
  anomalies: Anomaly[];
  /** Every anomaly folded, not only those still listed in `anomalies`. */
  anomalyCount: number;
  /** Counted over every anomaly folded, like `anomalyCount`. */
  anomaliesBySeverity: Record<Severity, number>;
  /** The most severe anomaly folded (the more confident one of equal severity, the earlier one of equal both). */
  mostSevere: Anomaly | null;
  /** Every update and anomaly, oldest first, the newest MAX_ITEMS. */
  timeline: InvestigationEvent[];
  lastEvent: InvestigationEvent | null;
  lastEventId: string | null;
  /** Set by `resync_required`: the server could not replay everything missed. */
  resyncRequired: ResyncInfo | null;
}

export const initialInvestigationState: InvestigationState = {
  status: null,
  statusMessage: null,
  progress: null,
  stage: null,
  findings: [],
  report: null,
  anomalies: [],
  anomalyCount: 0,
  anomaliesBySeverity: { low: 0, medium: 0, high: 0, critical: 0 },
  mostSevere: null,
  timeline: [],
  lastEvent: null,
  lastEventId: null,
  resyncRequired: null,
};

function moreSevere(candidate: Anomaly, current: Anomaly | null): boolean {
  if (!current) return true;
  const by = severityRank[candidate.severity] - severityRank[current.severity];
  return by > 0 || (by === 0 && candidate.confidence > current.confidence);
}

/** Applies one event; returns `state` itself when the event was already applied (React then renders nothing). */
export function reduceInvestigation(state: InvestigationState, event: InvestigationEvent): InvestigationState {
  if (!isNewEvent(state.lastEventId, event)) return state;
  const base = { ...state, lastEvent: event, lastEventId: event.id };
  switch (event.type) {
    case 'resync_required':
      return { ...base, resyncRequired: { reason: event.data.reason, lastEventId: event.data.lastEventId } };
    case 'anomaly_detected': {
      const { severity, description, contractId, confidence } = event.data;
      const anomaly: Anomaly = { eventId: event.id, at: event.timestamp, severity, description, contractId, confidence };
      return {
        ...base,
        anomalies: keepNewest(state.anomalies, anomaly),
        anomalyCount: state.anomalyCount + 1,
        anomaliesBySeverity: { ...state.anomaliesBySeverity, [severity]: state.anomaliesBySeverity[severity] + 1 },
        mostSevere: moreSevere(anomaly, state.mostSevere) ? anomaly : state.mostSevere,
        timeline: keepNewest(state.timeline, event),
      };
    }
    case 'investigation_update': {
      const timeline = keepNewest(state.timeline, event);
      const data = event.data;
      switch (data.updateType) {
        case 'status':
          return {
            ...base,
            timeline,
            status: data.status,
            statusMessage: data.message ?? null,
            // Done is all the way, whatever the last progress update said.
            progress: data.status === 'completed' ? 100 : state.progress,
          };
        case 'progress':
          return { ...base, timeline, progress: data.progress, stage: data.stage ?? state.stage };
        case 'agent_finding': {
          const finding: Finding = {
            eventId: event.id,
            at: event.timestamp,
            agent: data.agent,
            finding: data.finding,
            details: data.details,
          };
          return { ...base, timeline, findings: keepNewest(state.findings, finding) };
        }
        case 'report_status':
          return { ...base, timeline, report: { status: data.status, url: data.url ?? null } };
      }
    }
  }
}
