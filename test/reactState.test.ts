import { describe, expect, test } from 'vitest';
import {
  type AnalysisEvent,
  type ChatEvent,
  type InvestigationEvent,
  initialAnalysisState,
  initialChatState,
  initialInvestigationState,
  initialNotificationsState,
  MAX_ITEMS,
  type NotificationEvent,
  reduceAnalysis,
  reduceChat,
  reduceInvestigation,
  reduceNotifications,
} from '../client/react/index';
import { snapshotInvestigation } from '../server/chat/investigationSnapshot';

/**
 * The reducers behind the folded topics the React hooks read (the
 * investigation's in shared/, also behind the chat assistant's snapshot):
 * pure functions from (state, event) to state, so what a page shows after a
 * replay or a reconnect is decided here.
 */
const at = new Date('2026-01-01T00:00:00Z');
const progress = (id: string, value: number): InvestigationEvent => ({
  id,
  type: 'investigation_update',
  timestamp: at,
  data: { investigationId: 'inv-1', updateType: 'progress', progress: value },
});

const anomaly = (
  id: string,
  severity: 'low' | 'medium' | 'high' | 'critical',
  contractId: string,
  confidence: number,
): InvestigationEvent => ({
  id,
  type: 'anomaly_detected',
  timestamp: at,
  data: { investigationId: 'inv-1', severity, description: `anomaly ${id}`, contractId, confidence },
});

const chatMessage = (id: string, data: Omit<Extract<ChatEvent, { type: 'chat_message' }>['data'], 'sessionId'>): ChatEvent => ({
  id,
  type: 'chat_message',
  timestamp: at,
  data: { sessionId: 's', ...data },
});

describe('the hooks’ reducers', () => {
  test('an event id already applied changes nothing (a replay overlapping what was seen)', () => {
    const events = [progress('100-0', 10), progress('100-1', 20), progress('101-0', 30)];
    const once = events.reduce(reduceInvestigation, initialInvestigationState);
    const again = [progress('100-1', 20), progress('101-0', 30)].reduce(reduceInvestigation, once);
    // The same object: React sees no change and renders nothing.
    expect(again).toBe(once);
    expect(once.timeline.map((e) => e.id)).toEqual(['100-0', '100-1', '101-0']);
    expect(once.progress).toBe(30);
  });

  test('resync_required is applied even when its id is older, and what follows it applies too', () => {
    const before = [progress('500-0', 50)].reduce(reduceInvestigation, initialInvestigationState);
    const resync: InvestigationEvent = {
      id: '0-0',
      type: 'resync_required',
      timestamp: at,
      data: { topic: 'investigation:inv-1', lastEventId: '500-0', reason: 'unknown_event_id' },
    };
    const after = [resync, progress('10-0', 5)].reduce(reduceInvestigation, before);
    expect(after.resyncRequired).toEqual({ reason: 'unknown_event_id', lastEventId: '500-0' });
    expect(after.progress).toBe(5);
  });

  test('anomalies and findings are kept in order; the report and the status are the latest', () => {
    const events: InvestigationEvent[] = [
      {
        id: '1-0',
        type: 'investigation_update',
        timestamp: at,
        data: { investigationId: 'i', updateType: 'status', status: 'running', message: 'go' },
      },
      {
        id: '2-0',
        type: 'anomaly_detected',
        timestamp: at,
        data: { investigationId: 'i', severity: 'low', description: 'a', contractId: 'c1', confidence: 0.2 },
      },
      {
        id: '3-0',
        type: 'investigation_update',
        timestamp: at,
        data: { investigationId: 'i', updateType: 'agent_finding', agent: 'Zumbi', finding: 'f' },
      },
      {
        id: '4-0',
        type: 'anomaly_detected',
        timestamp: at,
        data: { investigationId: 'i', severity: 'critical', description: 'b', contractId: 'c2', confidence: 0.9 },
      },
      {
        id: '5-0',
        type: 'investigation_update',
        timestamp: at,
        data: { investigationId: 'i', updateType: 'report_status', status: 'ready', url: 'https://x.org/r' },
      },
      { id: '6-0', type: 'investigation_update', timestamp: at, data: { investigationId: 'i', updateType: 'status', status: 'completed' } },
    ];
    const state = events.reduce(reduceInvestigation, initialInvestigationState);
    expect(state.anomalies.map((a) => a.severity)).toEqual(['low', 'critical']);
    expect(state.findings.map((f) => f.agent)).toEqual(['Zumbi']);
    expect(state.report).toEqual({ status: 'ready', url: 'https://x.org/r' });
    expect(state.status).toBe('completed');
    expect(state.statusMessage).toBeNull();
    expect(state.lastEvent?.id).toBe('6-0');
  });

  test('a completed investigation is at 100%, whatever the last progress update said', () => {
    const completed: InvestigationEvent = {
      id: '2-0',
      type: 'investigation_update',
      timestamp: at,
      data: { investigationId: 'inv-1', updateType: 'status', status: 'completed' },
    };
    const state = [progress('1-0', 80), completed].reduce(reduceInvestigation, initialInvestigationState);
    expect(state.progress).toBe(100);
  });

  test('anomalies are counted by severity over the whole history, while the list keeps the newest 200', () => {
    const severities = ['low', 'medium', 'high', 'critical'] as const;
    const events: InvestigationEvent[] = [];
    // 250 anomalies; the one critical anomaly with the highest confidence comes early and leaves the list.
    for (let i = 0; i < 250; i++) {
      const severity = i === 3 ? 'critical' : severities[i % 3]!;
      events.push(anomaly(`${i + 1}-0`, severity, `CT-${i}`, i === 3 ? 0.99 : 0.5));
    }
    events.push(anomaly('300-0', 'critical', 'CT-late', 0.6));
    const state = events.reduce(reduceInvestigation, initialInvestigationState);

    expect(state.anomalies).toHaveLength(MAX_ITEMS);
    expect(state.anomalies[0]!.eventId).toBe('52-0');
    expect(state.anomalyCount).toBe(251);
    expect(state.anomaliesBySeverity).toEqual({ low: 83, medium: 83, high: 83, critical: 2 });
    // Of equal severity the more confident one, though it is no longer listed.
    expect(state.mostSevere).toMatchObject({ contractId: 'CT-3', severity: 'critical', confidence: 0.99 });
    expect(state.anomalies.some((a) => a.contractId === 'CT-3')).toBe(false);

    // The chat assistant answers from the same fold.
    const snapshot = snapshotInvestigation('inv-1', events, true);
    expect(snapshot).toMatchObject({ investigationId: 'inv-1', anomalyCount: 251, mostSevere: { contractId: 'CT-3' }, complete: true });
    expect(snapshot.anomaliesBySeverity).toEqual(state.anomaliesBySeverity);
  });

  test('an analysis error makes it failed, until a later status update says otherwise', () => {
    const update = (id: string, data: Extract<AnalysisEvent, { type: 'analysis_update' }>['data']): AnalysisEvent => ({
      id,
      type: 'analysis_update',
      timestamp: at,
      data,
    });
    const failed = [
      update('1-0', { analysisId: 'an-1', updateType: 'status', status: 'running', progress: 30 }),
      update('2-0', { analysisId: 'an-1', updateType: 'error', code: 'TIMEOUT', message: 'source did not answer' }),
    ].reduce(reduceAnalysis, initialAnalysisState);
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'TIMEOUT', message: 'source did not answer', at });
    expect(failed.progress).toBe(30);

    const retried = reduceAnalysis(failed, update('3-0', { analysisId: 'an-1', updateType: 'status', status: 'running', progress: 35 }));
    expect(retried.status).toBe('running');
    expect(retried.progress).toBe(35);
  });

  test('a streamed reply grows chunk by chunk, then the whole message replaces it', () => {
    const token = (id: string, delta: string, done = false): ChatEvent => ({
      id,
      type: 'chat_token',
      timestamp: at,
      data: { sessionId: 's', messageId: 'r1', delta, done },
    });
    let state = [token('1-0', 'Investigation '), token('1-1', 'inv-1 ')].reduce(reduceChat, initialChatState);
    expect(state.streaming).toEqual([{ messageId: 'r1', text: 'Investigation inv-1 ', done: false }]);
    state = [token('1-2', 'is running.'), token('1-3', '', true)].reduce(reduceChat, state);
    expect(state.streaming).toEqual([{ messageId: 'r1', text: 'Investigation inv-1 is running.', done: true }]);
    state = reduceChat(
      state,
      chatMessage('1-4', { messageId: 'r1', role: 'assistant', content: 'Investigation inv-1 is running.', userId: 'assistant' }),
    );
    expect(state.streaming).toEqual([]);
    expect(state.messages.map((m) => [m.role, m.content])).toEqual([['assistant', 'Investigation inv-1 is running.']]);
  });

  test('typing comes and goes per user; a message from a user ends their typing', () => {
    const typing = (id: string, userId: string, isTyping: boolean): ChatEvent => ({
      id,
      type: 'typing',
      timestamp: at,
      data: { sessionId: 's', userId, isTyping },
    });
    let state = [typing('1-0', 'ana', true), typing('1-1', 'bia', true), typing('1-2', 'bia', false)].reduce(reduceChat, initialChatState);
    expect(state.typing).toEqual(['ana']);
    state = reduceChat(state, chatMessage('1-3', { messageId: 'm1', role: 'user', content: 'hi', userId: 'ana' }));
    expect(state.typing).toEqual([]);
  });

  test('notifications are listed newest first', () => {
    const note = (id: string, title: string): NotificationEvent => ({
      id,
      type: 'notification',
      timestamp: at,
      data: { title, body: 'b', level: 'info' },
    });
    const state = [note('1-0', 'first'), note('2-0', 'second'), note('2-0', 'second')].reduce(
      reduceNotifications,
      initialNotificationsState,
    );
    expect(state.items.map((n) => n.title)).toEqual(['second', 'first']);
  });
});
