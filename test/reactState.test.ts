import { describe, expect, test } from 'vitest';
import {
  initialChatState,
  initialInvestigationState,
  initialNotificationsState,
  reduceChat,
  reduceInvestigation,
  reduceNotifications,
} from '../client/react/state';
import type { ChatEvent, InvestigationEvent, NotificationEvent } from '../client/react/types';

/**
 * The reducers behind the React hooks: pure functions from (state, event) to
 * state, so what a page shows after a replay or a reconnect is decided here.
 */
const at = new Date('2026-01-01T00:00:00Z');
const progress = (id: string, value: number): InvestigationEvent => ({
  id,
  type: 'investigation_update',
  timestamp: at,
  data: { investigationId: 'inv-1', updateType: 'progress', progress: value },
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
