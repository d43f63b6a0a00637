import { describe, expect, test } from 'vitest';
import { createSessionIdSigner } from '../server/chat/sessionIdSigner';
import { jwtKeys } from '../server/config';
import type { ChatAgent, ChatRequest } from '../server/index';
import type { EventOfType } from '../shared/events';
import { sessionIdSchema } from '../shared/ids';
import { type ChatItem, type Collector, collect } from './support/collect';
import { refusalOf, rejectionOf } from './support/errors';
import { metricValue } from './support/hostile';
import { startServer, TEST_SECRET, type TestServer } from './support/server';
import { waitFor } from './support/wait';

type Client = ReturnType<TestServer['wsClient']>['client'];
type ChatMessage = EventOfType<'chat_message'>;
type ChatToken = EventOfType<'chat_token'>;

const isMessage = (e: ChatItem['data']): e is ChatMessage => e.type === 'chat_message';
const isToken = (e: ChatItem['data']): e is ChatToken => e.type === 'chat_token';
const isReply = (e: ChatItem['data']): e is ChatMessage => isMessage(e) && e.data.role !== 'user';

function watchSession(client: Client, sessionId: string): Collector<ChatItem> {
  return collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId }, h));
}

/**
 * Sends a message and waits for the assistant's (or system's) answer to it; returns
 * everything the session's subscriber saw from the send on.
 */
async function ask(client: Client, chat: Collector<ChatItem>, sessionId: string, content: string) {
  const from = chat.items.length;
  const { messageId } = await client.chat.send.mutate({ sessionId, content });
  const items = await chat.until((all) => all.slice(from).some((i) => isReply(i.data)), `the reply to ${JSON.stringify(content)}`);
  const events = items.slice(from).map((i) => i.data);
  const reply = events.find(isReply)!;
  return { messageId, events, reply, tokens: events.filter(isToken) };
}

async function seedInvestigation(srv: TestServer, investigationId: string) {
  await srv.server.notifyInvestigationUpdate({ investigationId, updateType: 'status', data: { status: 'running' } });
  await srv.server.notifyInvestigationUpdate({
    investigationId,
    updateType: 'progress',
    data: { progress: 40, stage: 'fetching contracts' },
  });
  await srv.server.notifyAnomalyDetected({
    investigationId,
    anomaly: { severity: 'medium', description: 'late delivery penalties waived', contractId: 'CT-2', confidence: 0.6 },
  });
  await srv.server.notifyAnomalyDetected({
    investigationId,
    anomaly: { severity: 'critical', description: 'unit price 3x the market average', contractId: 'CT-9', confidence: 0.92 },
  });
}

describe('chat.send and the streamed reply', () => {
  test('the user message, then chat_token deltas of one reply that join into the assistant message', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-1');
    await chat.started;

    const { messageId, events, reply, tokens } = await ask(client, chat, 's-1', 'hello, anyone there?');

    expect(messageId).toEqual(expect.any(String));
    expect(events[0]).toMatchObject({
      type: 'chat_message',
      data: { sessionId: 's-1', messageId, role: 'user', content: 'hello, anyone there?', userId: 'alice' },
    });
    expect(events[0]!.timestamp).toBeInstanceOf(Date);

    expect(tokens.length).toBeGreaterThan(1);
    const replyId = tokens[0]!.data.messageId;
    expect(replyId).not.toBe(messageId);
    expect(tokens.every((t) => t.data.messageId === replyId)).toBe(true);
    expect(tokens.map((t) => t.data.done)).toEqual([...tokens.slice(1).map(() => false), true]);

    expect(reply.data).toMatchObject({ messageId: replyId, role: 'assistant', userId: 'assistant' });
    expect(reply.data.content.length).toBeGreaterThan(0);
    expect(tokens.map((t) => t.data.delta).join('')).toBe(reply.data.content);
    // The whole message comes after its last token.
    expect(events.indexOf(reply)).toBe(events.length - 1);
    expect(events.indexOf(tokens.at(-1)!)).toBe(events.length - 2);
  });

  test('a streamed reply flows on the chat_token window: every token arrives while normal events would wait a ten-minute batch window', async () => {
    const agent: ChatAgent = {
      async *reply() {
        for (const word of ['one ', 'two ', 'three ', 'four']) {
          yield word;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
    };
    await using srv = await startServer({ chatAgent: agent, limits: { BATCH_WINDOW_MS: 600_000, CHAT_TOKEN_WINDOW_MS: 20 } });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-tokens');
    await chat.started;
    await client.chat.send.mutate({ sessionId: 's-tokens', content: 'count' });
    const items = await chat.until((all) => all.some((i) => isToken(i.data) && i.data.data.done), 'the last token');
    const tokens = items.map((i) => i.data).filter(isToken);
    expect(tokens.map((t) => t.data.delta).join('')).toBe('one two three four');
  });

  test('a reply’s tokens wait for company: after a quiet spell none goes out alone, the burst is one batch with the final message', async () => {
    let startReply = () => {};
    const gate = new Promise<void>((resolve) => (startReply = resolve));
    const agent: ChatAgent = {
      async *reply() {
        await gate;
        yield* ['one ', 'two ', 'three ', 'four'];
      },
    };
    // A window long enough that the agent's burst (microseconds) always fits in it.
    await using srv = await startServer({ chatAgent: agent, limits: { BATCH_WINDOW_MS: 600_000, CHAT_TOKEN_WINDOW_MS: 400 } });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-burst');
    await chat.started;
    await client.chat.send.mutate({ sessionId: 's-burst', content: 'count' });
    await chat.take(1);
    // The session stays quiet for longer than the token window: a normal event would now go at once.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    startReply();
    const items = await chat.until((all) => all.some((i) => isReply(i.data)), 'the reply');
    const events = items.map((i) => i.data);
    expect(events.filter(isToken).map((t) => t.data.delta)).toEqual(['one ', 'two ', 'three ', 'four', '']);
    expect(events.find(isReply)?.data.content).toBe('one two three four');
    // The user's message went at once; then one batch: four tokens, the closing token and the assistant's message.
    const batches = await metricValue(srv.address.httpUrl, 'realtime_batch_size_events_count');
    const inBatches = await metricValue(srv.address.httpUrl, 'realtime_batch_size_events_sum');
    expect({ batches, events: inBatches }).toEqual({ batches: 2, events: 7 });
  });

  test('a reply’s tokens are live only: a long reply leaves the conversation in the history, stored as two messages', async () => {
    const words = Array.from({ length: 30 }, (_, i) => `w${i} `);
    const agent: ChatAgent = {
      async *reply() {
        yield* words;
      },
    };
    // Room for four events: thirty stored tokens would have pushed the question out.
    await using srv = await startServer({ chatAgent: agent, limits: { HISTORY_SIZE: 4 } });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-long');
    await chat.started;
    const { tokens, reply } = await ask(client, chat, 's-long', 'a long answer, please');
    expect(tokens.map((t) => t.data.delta).join('')).toBe(words.join(''));

    const replay = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: 's-long', lastEventId: '0-0' }, h));
    const kept = await replay.take(2);
    expect(kept.map((i) => [i.data.type, (i.data as ChatMessage).data.content])).toEqual([
      ['chat_message', 'a long answer, please'],
      ['chat_message', reply.data.content],
    ]);
    // A token's id is a place to resume from like any other: nothing stored came after the reply.
    const fromToken = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: 's-long', lastEventId: tokens.at(-1)!.id }, h));
    expect((await fromToken.take(1)).map((i) => i.data.type)).toEqual(['chat_message']);
    await client.chat.typing.mutate({ sessionId: 's-long', isTyping: true });
    expect((await fromToken.take(2)).map((i) => i.data.type)).toEqual(['chat_message', 'typing']);
  });

  test('a client that resumes mid-reply from a token’s id gets the rest live and ends with the whole reply', async () => {
    let releaseRest = () => {};
    const rest = new Promise<void>((resolve) => (releaseRest = resolve));
    const agent: ChatAgent = {
      async *reply() {
        yield* ['one ', 'two '];
        await rest;
        yield* ['three ', 'four'];
      },
    };
    await using srv = await startServer({ chatAgent: agent });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const first = watchSession(client, 's-resume');
    await first.started;
    await client.chat.send.mutate({ sessionId: 's-resume', content: 'count' });
    const seen = await first.until((all) => all.filter((i) => isToken(i.data)).length >= 2, 'two tokens');
    const lastSeen = seen.at(-1)!;
    first.unsubscribe();

    const resumed = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: 's-resume', lastEventId: lastSeen.id }, h));
    await resumed.started;
    releaseRest();
    const items = await resumed.until((all) => all.some((i) => isReply(i.data)), 'the reply');
    const events = items.map((i) => i.data);
    expect(events.filter(isToken).map((t) => t.data.delta)).toEqual(['three ', 'four', '']);
    expect(events.find(isReply)?.data.content).toBe('one two three four');
    expect(events.at(-1)).toMatchObject({ type: 'chat_message', data: { role: 'assistant' } });
  });

  test('chat.typing publishes typing events to the session and answers { ok: true }', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-typing');
    await chat.started;

    expect(await client.chat.typing.mutate({ sessionId: 's-typing', isTyping: true })).toEqual({ ok: true });
    expect(await client.chat.typing.mutate({ sessionId: 's-typing', isTyping: false })).toEqual({ ok: true });

    const got = await chat.take(2);
    expect(got.map((i) => [i.data.type, i.data.data])).toEqual([
      ['typing', { sessionId: 's-typing', userId: 'alice', isTyping: true }],
      ['typing', { sessionId: 's-typing', userId: 'alice', isTyping: false }],
    ]);
  });

  test('empty, blank and over-long content is BAD_REQUEST and publishes nothing', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-bad');
    await chat.started;

    for (const content of ['', '   \n\t ', 'x'.repeat(8001)]) {
      const refused = await rejectionOf(() => client.chat.send.mutate({ sessionId: 's-bad', content }));
      expect(refused.code, `content of ${content.length} chars`).toBe('BAD_REQUEST');
    }

    // 8000 characters is still allowed, and it is the first thing the session sees.
    const longest = 'y'.repeat(8000);
    const { events } = await ask(client, chat, 's-bad', longest);
    expect(chat.items[0]!.data).toBe(events[0]);
    expect(events[0]).toMatchObject({ type: 'chat_message', data: { role: 'user', content: longest } });
  });
});

describe('the built-in assistant answers from live state', () => {
  test('status, progress and anomalies of the watched investigation', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) });
    await seedInvestigation(srv, 'inv-A');
    const chat = watchSession(client, 's-live');
    await chat.started;
    expect(await client.chat.watchInvestigation.mutate({ sessionId: 's-live', investigationId: 'inv-A' })).toEqual({ ok: true });

    const { reply } = await ask(client, chat, 's-live', 'what is the status, progress and anomalies?');

    expect(reply.data.role).toBe('assistant');
    const answer = reply.data.content;
    expect(answer).toContain('running');
    expect(answer).toContain('40%');
    expect(answer).toContain('fetching contracts');
    expect(answer).toContain('2 anomalies');
    expect(answer).toContain('critical');
    expect(answer).toContain('CT-9');
    expect(answer).toContain('unit price 3x the market average');
  });

  test('different questions get different answers, and the answers follow new events', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) });
    await seedInvestigation(srv, 'inv-A');
    const chat = watchSession(client, 's-questions');
    await chat.started;
    await client.chat.watchInvestigation.mutate({ sessionId: 's-questions', investigationId: 'inv-A' });

    const anomalies = (await ask(client, chat, 's-questions', 'any anomalies?')).reply.data.content;
    expect(anomalies).toContain('2 anomalies');
    expect(anomalies).toContain('CT-9');
    expect(anomalies).not.toContain('40%');

    const progress = (await ask(client, chat, 's-questions', 'how far along is it?')).reply.data.content;
    expect(progress).toContain('40%');
    expect(progress).not.toContain('CT-9');

    const url = 'https://reports.cidadao.ai/inv-A.pdf';
    const noReport = (await ask(client, chat, 's-questions', 'report?')).reply.data.content;
    expect(noReport).not.toContain(url);
    await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-A', updateType: 'report_status', data: { status: 'ready', url } });
    const report = (await ask(client, chat, 's-questions', 'report?')).reply.data.content;
    expect(report).toContain('ready');
    expect(report).toContain(url);
    expect(report).not.toContain('anomal');

    await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-A', updateType: 'status', data: { status: 'completed' } });
    const status = (await ask(client, chat, 's-questions', 'status?')).reply.data.content;
    expect(status).toContain('completed');
    expect(status).not.toContain('running');
  });

  test('a session watching nothing is told so', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) });
    // State exists on the server, but this session does not watch it.
    await seedInvestigation(srv, 'inv-A');
    const chat = watchSession(client, 's-idle');
    await chat.started;

    const answer = (await ask(client, chat, 's-idle', 'what is the status and anomalies?')).reply.data.content;
    expect(answer).toMatch(/not watching any investigation/);
    expect(answer).not.toContain('CT-9');
  });
});

test('events of watched investigations (only those) reach chat.onEvent', async () => {
  await using srv = await startServer();
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A', 'inv-B'] }) });
  const chat = watchSession(client, 's-watch');
  await chat.started;
  await client.chat.watchInvestigation.mutate({ sessionId: 's-watch', investigationId: 'inv-A' });

  // inv-B is not watched: had it leaked into the session it would arrive first.
  await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-B', updateType: 'status', data: { status: 'failed' } });
  await srv.server.notifyInvestigationUpdate({
    investigationId: 'inv-A',
    updateType: 'progress',
    data: { progress: 40, stage: 'scoring' },
  });
  await srv.server.notifyAnomalyDetected({
    investigationId: 'inv-A',
    anomaly: { severity: 'high', description: 'split purchase under the bidding threshold', contractId: 'CT-3', confidence: 0.8 },
  });

  const [update, anomaly] = await chat.take(2);
  expect(update!.data).toMatchObject({
    type: 'investigation_update',
    data: { investigationId: 'inv-A', updateType: 'progress', progress: 40, stage: 'scoring' },
  });
  expect(update!.data.timestamp).toBeInstanceOf(Date);
  expect(anomaly!.data).toMatchObject({
    type: 'anomaly_detected',
    data: {
      investigationId: 'inv-A',
      severity: 'high',
      description: 'split purchase under the bidding threshold',
      contractId: 'CT-3',
      confidence: 0.8,
    },
  });

  // Watching needs the same grant as subscribing to the investigation.
  const refused = await rejectionOf(() => client.chat.watchInvestigation.mutate({ sessionId: 's-watch', investigationId: 'inv-secret' }));
  expect(refused).toMatchObject({ code: 'FORBIDDEN', reason: 'not_granted' });
});

test('a session belongs to its first user: others are FORBIDDEN, an admin may read it', async () => {
  await using srv = await startServer();
  const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) }).client;
  const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['*'] }) }).client;
  const admin = srv.wsClient({ token: await srv.token({ sub: 'root', roles: ['admin'] }) }).client;

  const aliceChat = watchSession(alice, 's-alice');
  await aliceChat.started;

  const bobChat = watchSession(bob, 's-alice');
  const bobError = await bobChat.failed();
  expect(bobError.data).toMatchObject({ code: 'FORBIDDEN', reason: 'session_owned_by_other' });
  for (const call of [
    () => bob.chat.send.mutate({ sessionId: 's-alice', content: 'let me in' }),
    () => bob.chat.typing.mutate({ sessionId: 's-alice', isTyping: true }),
    () => bob.chat.watchInvestigation.mutate({ sessionId: 's-alice', investigationId: 'inv-A' }),
  ]) {
    expect(await rejectionOf(call)).toMatchObject({ code: 'FORBIDDEN', reason: 'session_owned_by_other' });
  }

  const adminChat = watchSession(admin, 's-alice');
  await adminChat.started;

  await ask(alice, aliceChat, 's-alice', 'hello');
  // Nothing bob tried reached the session: alice's message is the first event of it.
  expect(aliceChat.items[0]!.data).toMatchObject({ type: 'chat_message', data: { userId: 'alice', content: 'hello' } });
  const [seenByAdmin] = await adminChat.take(1);
  expect(seenByAdmin!.data).toMatchObject({ type: 'chat_message', data: { role: 'user', userId: 'alice', content: 'hello' } });
  await adminChat.until((items) => items.some((i) => isReply(i.data)), 'the assistant reply, seen by the admin');
});

describe('a ChatAgent given to the server', () => {
  test('is used: its chunks are the chat_token deltas, and it sees the request and live state', async () => {
    const requests: ChatRequest[] = [];
    const agent: ChatAgent = {
      async *reply(request) {
        requests.push(request);
        yield 'Olá';
        yield '';
        yield ', ';
        yield `${request.userId}!`;
      },
    };
    await using srv = await startServer({ chatAgent: agent });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) });
    await seedInvestigation(srv, 'inv-A');
    const chat = watchSession(client, 's-agent');
    await chat.started;
    await client.chat.watchInvestigation.mutate({ sessionId: 's-agent', investigationId: 'inv-A' });

    const { tokens, reply } = await ask(client, chat, 's-agent', 'oi');

    expect(tokens.map((t) => [t.data.delta, t.data.done])).toEqual([
      ['Olá', false],
      [', ', false],
      ['alice!', false],
      ['', true],
    ]);
    expect(reply.data).toMatchObject({ role: 'assistant', content: 'Olá, alice!' });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ sessionId: 's-agent', userId: 'alice', content: 'oi' });
    expect(requests[0]!.investigations).toMatchObject([
      { investigationId: 'inv-A', status: 'running', progress: 40, anomalyCount: 2, mostSevere: { contractId: 'CT-9' } },
    ]);
  });

  test('one that throws yields a system message, and the session keeps working', async () => {
    const agent: ChatAgent = {
      async *reply(request) {
        if (request.content === 'fail at once') throw new Error('model unavailable');
        yield 'Let me think';
        throw new Error('model went away mid-answer');
      },
    };
    await using srv = await startServer({ chatAgent: agent });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    const chat = watchSession(client, 's-broken');
    await chat.started;

    const midway = await ask(client, chat, 's-broken', 'tell me something');
    expect(midway.tokens.map((t) => t.data.delta)).toEqual(['Let me think']);
    expect(midway.reply.data).toMatchObject({ role: 'system', messageId: midway.tokens[0]!.data.messageId });
    expect(midway.reply.data.content).toMatch(/could not answer/);

    // More failures than replies a session may have in flight: each one released its slot.
    for (let i = 0; i < 3; i++) {
      const atOnce = await ask(client, chat, 's-broken', 'fail at once');
      expect(atOnce.tokens).toEqual([]);
      expect(atOnce.reply.data.role).toBe('system');
    }
  });
});

/** Every chat procedure `client` may call on `sessionId`, each answering its refusal (or null when allowed). */
async function refusalsOn(client: Client, sessionId: string) {
  const subscription = watchSession(client, sessionId);
  const outcome = (call: () => Promise<unknown>) => rejectionOf(call).catch(() => null);
  const refusals = {
    onEvent: await subscription.failed().then(refusalOf, () => null),
    send: await outcome(() => client.chat.send.mutate({ sessionId, content: 'let me in' })),
    typing: await outcome(() => client.chat.typing.mutate({ sessionId, isTyping: true })),
    watchInvestigation: await outcome(() => client.chat.watchInvestigation.mutate({ sessionId, investigationId: 'inv-A' })),
  };
  subscription.unsubscribe();
  return refusals;
}

const forbidden = { code: 'FORBIDDEN', reason: 'session_owned_by_other' };
const allForbidden = { onEvent: forbidden, send: forbidden, typing: forbidden, watchInvestigation: forbidden };

describe('chat.createSession', () => {
  test('returns a new id owned by the caller, within the session-id schema; the owner uses it like any session', async () => {
    await using srv = await startServer();
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) });

    const { sessionId } = await client.chat.createSession.mutate({});
    const { sessionId: another } = await client.chat.createSession.mutate();
    expect(sessionId).toMatch(/^s_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{22}$/);
    expect(sessionIdSchema.parse(sessionId)).toBe(sessionId);
    expect(another).not.toBe(sessionId);

    const chat = watchSession(client, sessionId);
    await chat.started;
    expect(await client.chat.watchInvestigation.mutate({ sessionId, investigationId: 'inv-A' })).toEqual({ ok: true });
    expect(await client.chat.typing.mutate({ sessionId, isTyping: true })).toEqual({ ok: true });
    expect((await chat.take(1))[0]!.data).toMatchObject({ type: 'typing', data: { sessionId, userId: 'alice', isTyping: true } });
    const { events } = await ask(client, chat, sessionId, 'status?');
    expect(events[0]).toMatchObject({ type: 'chat_message', data: { sessionId, role: 'user', userId: 'alice' } });

    // Over HTTP too, from a backend acting for a user, with `{}` as plain JSON.
    const res = await fetch(`${srv.address.httpUrl}/api/v1/trpc/chat.createSession`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await srv.token({ sub: 'alice' })}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { json: { sessionId: string } } } };
    expect(body.result.data.json.sessionId).toMatch(/^s_/);
  });

  test('another user is FORBIDDEN on every chat procedure for it, also before its owner ever used it; an admin may only read it', async () => {
    await using srv = await startServer();
    const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) }).client;
    const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['*'] }) }).client;
    const admin = srv.wsClient({ token: await srv.token({ sub: 'root', roles: ['admin'] }) }).client;

    const { sessionId } = await alice.chat.createSession.mutate({});
    expect(await refusalsOn(bob, sessionId)).toEqual(allForbidden);

    // An id issued for alice that the store has never seen (as after it lost
    // its data): bob touching it first does not make it his.
    const unseen = createSessionIdSigner(jwtKeys(TEST_SECRET)).issue('alice');
    expect(await refusalsOn(bob, unseen)).toEqual(allForbidden);

    const adminChat = watchSession(admin, sessionId);
    await adminChat.started;
    expect(await rejectionOf(() => admin.chat.send.mutate({ sessionId, content: 'hi' }))).toEqual(forbidden);

    for (const id of [sessionId, unseen]) {
      const chat = watchSession(alice, id);
      await chat.started;
      await ask(alice, chat, id, 'hello');
      // Nothing bob (or the admin) tried reached the session.
      expect(chat.items[0]!.data).toMatchObject({ type: 'chat_message', data: { userId: 'alice', content: 'hello' } });
    }
    await adminChat.until((items) => items.some((i) => isReply(i.data)), 'alice’s conversation, seen by the admin');
  });

  test('a forged id is FORBIDDEN: signed with another key, altered, or alice’s random part signed for bob', async () => {
    await using srv = await startServer();
    const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) }).client;
    const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['inv-A'] }) }).client;
    const { sessionId } = await alice.chat.createSession.mutate({});

    const wrongKey = createSessionIdSigner(['another-secret-that-is-at-least-32-characters']).issue('bob');
    const tag = sessionId.slice(-22);
    const altered = `${sessionId.slice(0, -22)}${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`;
    const random = sessionId.slice(2, 24);
    const foreignTag = createSessionIdSigner(['another-secret-that-is-at-least-32-characters']).issue('bob').slice(-22);
    const graft = `s_${random}_${foreignTag}`;

    for (const forged of [wrongKey, altered, graft]) {
      expect(sessionIdSchema.parse(forged)).toBe(forged);
      expect(await refusalsOn(bob, forged), forged).toEqual(allForbidden);
    }
    // The altered id names nobody, alice included; hers still works.
    expect(await rejectionOf(() => alice.chat.send.mutate({ sessionId: altered, content: 'x' }))).toEqual(forbidden);
    expect(await alice.chat.typing.mutate({ sessionId, isTyping: true })).toEqual({ ok: true });
  });

  test('created sessions count toward MAX_CHAT_SESSIONS_PER_USER with made-up ones', async () => {
    await using srv = await startServer({ limits: { MAX_CHAT_SESSIONS_PER_USER: 2 } });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice' }) });
    await client.chat.createSession.mutate({});
    await client.chat.typing.mutate({ sessionId: 's-made-up', isTyping: true });
    expect(await rejectionOf(() => client.chat.createSession.mutate({}))).toEqual({
      code: 'TOO_MANY_REQUESTS',
      reason: 'too_many_sessions',
    });
  });
});

test('an id the client made up still works, and is its first user’s', async () => {
  await using srv = await startServer();
  const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) }).client;
  const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['inv-A'] }) }).client;
  // Shaped almost like an issued id, but not quite: an id of the client's own.
  for (const sessionId of ['chat-alice', 's_my-own-session']) {
    const chat = watchSession(alice, sessionId);
    await chat.started;
    await ask(alice, chat, sessionId, 'hello');
    expect(await refusalsOn(bob, sessionId)).toEqual(allForbidden);
  }
});

describe('a session whose owner is subscribed stays theirs, however long they stay idle', () => {
  // HISTORY_TTL_SECONDS of 1: a session nobody uses is forgotten after 2 s.
  const limits = { HISTORY_TTL_SECONDS: 1 };

  test('past the ttl an intruder is FORBIDDEN everywhere; the owner still receives, watches and sends', async () => {
    await using srv = await startServer({ limits });
    const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-A'] }) }).client;
    const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['*'] }) }).client;

    const chat = watchSession(alice, 's-guarded');
    await chat.started;
    await alice.chat.watchInvestigation.mutate({ sessionId: 's-guarded', investigationId: 'inv-A' });
    await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-A', updateType: 'status', data: { status: 'running' } });
    await chat.take(1);

    // Claimed after alice's last call on s-guarded: once bob may take it, an
    // unrenewed s-guarded would have been forgotten too.
    await alice.chat.typing.mutate({ sessionId: 's-control', isTyping: false });
    await waitFor(
      () =>
        bob.chat.typing.mutate({ sessionId: 's-control', isTyping: false }).then(
          () => 'claimed',
          (err: unknown) => refusalOf(err).reason,
        ),
      (r) => r === 'claimed',
      'the unrenewed session to be forgotten',
    );

    expect(await refusalsOn(bob, 's-guarded')).toEqual(allForbidden);

    // alice's subscription carries on: the investigation she watches (the watch outlived the ttl too), her own messages.
    await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-A', updateType: 'progress', data: { progress: 70 } });
    await chat.until(
      (items) => items.some((i) => i.data.type === 'investigation_update' && i.data.data.updateType === 'progress'),
      'the progress update',
    );
    const { events } = await ask(alice, chat, 's-guarded', 'how far along is it?');
    expect(events[0]).toMatchObject({ type: 'chat_message', data: { userId: 'alice', content: 'how far along is it?' } });
    // Nothing of bob's reached it.
    expect(chat.items.every((i) => i.data.type !== 'chat_message' || i.data.data.userId !== 'bob')).toBe(true);
    expect(srv.server.stats().chat.renewedSessions).toBe(1);
  });

  test('once the owner’s subscription ends, the renewals stop and the session is forgotten like any other', async () => {
    await using srv = await startServer({ limits });
    const alice = srv.wsClient({ token: await srv.token({ sub: 'alice' }) }).client;
    const bob = srv.wsClient({ token: await srv.token({ sub: 'bob' }) }).client;
    const chat = watchSession(alice, 's-left');
    await chat.started;
    chat.unsubscribe();

    await waitFor(
      () =>
        bob.chat.typing.mutate({ sessionId: 's-left', isTyping: false }).then(
          () => 'claimed',
          (err: unknown) => refusalOf(err).reason,
        ),
      (r) => r === 'claimed',
      'the session to be forgotten',
    );
    await waitFor(
      () => srv.server.stats().chat.renewedSessions,
      (n) => n === 0,
      'the node to stop renewing it',
    );
  });
});
