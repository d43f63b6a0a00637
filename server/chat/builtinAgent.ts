import { setTimeout as sleep } from 'node:timers/promises';
import { severityRank } from '../../shared/investigationState';
import type { ChatAgent, ChatRequest } from './chatAgent';
import type { InvestigationSnapshot } from './investigationSnapshot';

/**
 * The built-in assistant. It reads what the user asks about (status, progress,
 * anomalies, findings, report, or one investigation by id) and answers from the
 * snapshots of the watched investigations, streamed a few words at a time.
 */
export function createBuiltinAgent(opts: { chunkDelayMs?: number } = {}): ChatAgent {
  const delay = opts.chunkDelayMs ?? 15;
  return {
    async *reply(request: ChatRequest) {
      const text = composeAnswer(request.content, request.investigations);
      for (const chunk of chunkWords(text, 3)) {
        if (request.signal.aborted) return;
        yield chunk;
        if (delay > 0) await sleep(delay, undefined, { signal: request.signal }).catch(() => undefined);
      }
    },
  };
}

/** How many of the newest findings an answer names: a sentence, not the whole list. */
const LATEST_FINDINGS = 5;

type Topic = 'status' | 'progress' | 'anomalies' | 'findings' | 'report';

const topicWords: Record<Topic, RegExp> = {
  status: /\b(status|state|estado|situa[cç][aã]o)\b/i,
  progress: /\b(progress|progresso|andamento|percent|how far|stage|etapa)\b|%/i,
  anomalies: /\b(anomal\w*|irregular\w*|suspeit\w*|suspicious|fraud\w*|risk\w*|risco|severity|severe|critical|cr[ií]tic\w*)\b/i,
  findings: /\b(finding\w*|descobert\w*|agent\w*|agente\w*)\b/i,
  report: /\b(report|relat[oó]rio)\b/i,
};

function composeAnswer(question: string, investigations: readonly InvestigationSnapshot[]): string {
  if (investigations.length === 0) {
    return 'This session is not watching any investigation yet. Use chat.watchInvestigation with an investigation id, and I will answer from its live status, progress and anomalies.';
  }
  const named = investigations.filter((inv) => question.includes(inv.investigationId));
  const targets = named.length > 0 ? named : investigations;
  const asked = (Object.keys(topicWords) as Topic[]).filter((t) => topicWords[t].test(question));
  const topicsToAnswer: Topic[] = asked.length > 0 ? asked : ['status', 'progress', 'anomalies'];
  // "How is it going?" about status wants the progress too.
  if (topicsToAnswer.includes('status') && !topicsToAnswer.includes('progress')) {
    topicsToAnswer.splice(topicsToAnswer.indexOf('status') + 1, 0, 'progress');
  }
  const parts = targets.map((inv) => describe(inv, topicsToAnswer));
  const intro = targets.length === 1 ? '' : `You are watching ${targets.length} investigations. `;
  return intro + parts.join(' ');
}

function describe(inv: InvestigationSnapshot, asked: readonly Topic[]): string {
  const id = inv.investigationId;
  if (!inv.lastEvent) return `Investigation ${id} has not reported anything yet.`;
  const sentences: string[] = [];
  for (const topic of asked) {
    switch (topic) {
      case 'status':
        sentences.push(
          inv.status
            ? `Investigation ${id} is ${inv.status}${inv.statusMessage ? ` (${inv.statusMessage})` : ''}.`
            : `Investigation ${id} has not reported a status yet.`,
        );
        break;
      case 'progress':
        sentences.push(
          inv.progress !== null
            ? `Progress is ${Math.round(inv.progress)}%${inv.stage ? `, at stage "${inv.stage}"` : ''}.`
            : 'No progress has been reported yet.',
        );
        break;
      case 'anomalies': {
        const worst = inv.mostSevere;
        if (inv.anomalyCount === 0 || !worst) {
          sentences.push('No anomalies have been detected so far.');
          break;
        }
        const by = inv.anomaliesBySeverity;
        const counts = (Object.keys(by) as (keyof typeof by)[])
          .sort((a, b) => severityRank[b] - severityRank[a])
          .filter((s) => by[s] > 0)
          .map((s) => `${by[s]} ${s}`)
          .join(', ');
        sentences.push(
          `${inv.anomalyCount} ${inv.anomalyCount === 1 ? 'anomaly has' : 'anomalies have'} been detected (${counts}). ` +
            `The most severe is ${worst.severity} on contract ${worst.contractId}: ${worst.description} ` +
            `(confidence ${Math.round(worst.confidence * 100)}%).`,
        );
        break;
      }
      case 'findings': {
        const latest = inv.findings.slice(-LATEST_FINDINGS);
        sentences.push(
          latest.length > 0
            ? `Latest findings: ${latest.map((f) => `${f.agent}: ${f.finding}`).join('; ')}.`
            : 'No agent has reported a finding yet.',
        );
        break;
      }
      case 'report':
        sentences.push(
          inv.report
            ? `The report is ${inv.report.status}${inv.report.url ? ` at ${inv.report.url}` : ''}.`
            : 'No report has been started yet.',
        );
        break;
    }
  }
  if (!inv.complete) sentences.push('(Counts cover the retained history only.)');
  return sentences.join(' ');
}

/** Splits text into chunks of a few words, keeping the spaces, so the chunks join back exactly. */
function chunkWords(text: string, wordsPerChunk: number): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerChunk) chunks.push(words.slice(i, i + wordsPerChunk).join(''));
  return chunks;
}
