import type { AnomalyData, RealtimeEvent } from '../../shared/events';

const severityRank = { low: 0, medium: 1, high: 2, critical: 3 } as const;

/** What the server has seen of one investigation, folded from its event history. */
export interface InvestigationSnapshot {
  investigationId: string;
  status?: string;
  statusMessage?: string;
  progress?: number;
  stage?: string;
  reportStatus?: string;
  reportUrl?: string;
  findings: { agent: string; finding: string }[];
  anomalyCount: number;
  anomaliesBySeverity: Record<AnomalyData['severity'], number>;
  mostSevere?: AnomalyData;
  lastUpdate?: Date;
  /** False when the oldest events were trimmed: counts cover the retained history only. */
  complete: boolean;
}

/** Folds an investigation's events, oldest first, into its current state. */
export function snapshotInvestigation(investigationId: string, events: readonly RealtimeEvent[], complete: boolean): InvestigationSnapshot {
  const snap: InvestigationSnapshot = {
    investigationId,
    findings: [],
    anomalyCount: 0,
    anomaliesBySeverity: { low: 0, medium: 0, high: 0, critical: 0 },
    complete,
  };
  for (const event of events) {
    snap.lastUpdate = event.timestamp;
    if (event.type === 'anomaly_detected') {
      const a = event.data;
      snap.anomalyCount++;
      snap.anomaliesBySeverity[a.severity]++;
      const worst = snap.mostSevere;
      if (
        !worst ||
        severityRank[a.severity] > severityRank[worst.severity] ||
        (a.severity === worst.severity && a.confidence > worst.confidence)
      ) {
        snap.mostSevere = a;
      }
    } else if (event.type === 'investigation_update') {
      const d = event.data;
      switch (d.updateType) {
        case 'status':
          snap.status = d.status;
          snap.statusMessage = d.message;
          if (d.status === 'completed') snap.progress = 100;
          break;
        case 'progress':
          snap.progress = d.progress;
          if (d.stage) snap.stage = d.stage;
          break;
        case 'agent_finding':
          snap.findings.push({ agent: d.agent, finding: d.finding });
          if (snap.findings.length > 5) snap.findings.shift();
          break;
        case 'report_status':
          snap.reportStatus = d.status;
          snap.reportUrl = d.url;
          break;
      }
    }
  }
  return snap;
}
