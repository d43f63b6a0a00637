import type { RealtimeEvent } from '../../shared/events';
import { marker } from '../marker';
import type { EventKind } from './protocol';

/**
 * The event every peer sends, built the same way everywhere: an investigation
 * `agent_finding` update whose `finding` starts with the marker and is padded
 * to 200 characters (normal), an anomaly of severity high carrying the marker
 * in its description (critical), a chat token whose delta is the marker (about
 * 25 bytes), and a notification whose body is the `bnote:` marker. Peers send
 * our envelope `{ id, type, timestamp: Date, data }`.
 */
const FINDING_CHARS = 200;
const PADDING =
  ' contrato com sobrepreço de 38 % em relação à mediana de mercado; fornecedor sem histórico; aditivos sucessivos acima do limite legal; pagamento antecipado sem garantia; '.repeat(
    2,
  );

const details = { contractId: 'CT-2024-000123', supplier: 'Construtora Exemplo Ltda', amount: 1_234_567.89, agency: 'SEINFRA' };

function padded(text: string): string {
  return text + PADDING.slice(0, Math.max(0, FINDING_CHARS - text.length));
}

export function agentFindingData(topic: string, seq: number, sentAt: number) {
  return { investigationId: topic, updateType: 'agent_finding' as const, agent: 'bench', finding: padded(marker(0, seq, sentAt)), details };
}

export function anomalyData(topic: string, seq: number, sentAt: number) {
  return {
    investigationId: topic,
    severity: 'high' as const,
    description: padded(marker(0, seq, sentAt)),
    contractId: details.contractId,
    confidence: 0.93,
  };
}

function chatTokenData(topic: string, seq: number, sentAt: number) {
  return { sessionId: topic, messageId: `reply-${topic}`, delta: marker(0, seq, sentAt), done: false };
}

export function notificationData(seq: number, sentAt: number) {
  return { title: 'bench', body: marker(1, seq, sentAt), level: 'info' as const };
}

/** Typed as our events are, so a peer can apply our rules to it (`isCriticalEvent`). */
export type Envelope = RealtimeEvent;

/** The envelope a subscriber of ours receives, for the peers to send. */
export function envelopeOf(kind: EventKind, topic: string, seq: number, sentAt: number): Envelope {
  const timestamp = new Date();
  const id = `${timestamp.getTime()}-${seq}`;
  switch (kind) {
    case 'normal':
      return { id, type: 'investigation_update', timestamp, data: agentFindingData(topic, seq, sentAt) };
    case 'critical':
      return { id, type: 'anomaly_detected', timestamp, data: anomalyData(topic, seq, sentAt) };
    case 'chat':
      return { id, type: 'chat_token', timestamp, data: chatTokenData(topic, seq, sentAt) };
    case 'notification':
      return { id, type: 'notification', timestamp, data: notificationData(seq, sentAt) };
  }
}
