import { expect, test } from 'vitest';
import { CloseCode } from '../shared/closeCodes';
import { type ChatItem, collect, type NotificationItem } from './support/collect';
import { expectRefused, refusalOf, rejectionOf } from './support/errors';
import { RawWs } from './support/rawWs';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

type Limits = NonNullable<Parameters<typeof startServer>[0]>['limits'];

/** Two nodes of one deployment: one Redis, one key prefix of this test's own. */
async function startTwoNodes(limits: Limits = {}) {
  const prefix = uniquePrefix();
  const a = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: prefix, limits });
  const b = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: prefix, limits });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
    },
  };
}

const tokenUrl = (node: TestServer, token: string) => `${node.address.wsUrl}?token=${encodeURIComponent(token)}`;

/**
 * Opens a raw connection and learns whether it was admitted: a subscription
 * that starts means the server counted it; a close first gives the close code.
 */
async function connect(node: TestServer, token: string): Promise<{ ws: RawWs; outcome: 'admitted' | number }> {
  const ws = await RawWs.open(tokenUrl(node, token));
  ws.request(1, 'subscription', 'notification.onNotification', {});
  try {
    const frame = await ws.response(1);
    if (frame.result?.type === 'started') return { ws, outcome: 'admitted' };
  } catch {
    // Closed before answering: the close code says why.
  }
  return { ws, outcome: (await ws.closed).code };
}

describeWithRedis('shared state across two nodes', () => {
  test('a chat session claimed on A is FORBIDDEN to another user on B, and still its owner’s there', async () => {
    await using nodes = await startTwoNodes();
    const { a, b } = nodes;
    const alice = await a.token({ sub: 'alice' });
    const bob = await b.token({ sub: 'bob' });
    const { client: aliceOnA } = a.wsClient({ token: alice });
    const mine = collect<ChatItem>((h) => aliceOnA.chat.onEvent.subscribe({ sessionId: 's-claimed' }, h));
    await mine.started;

    expectRefused(
      await rejectionOf(() => b.httpClient(bob).chat.send.mutate({ sessionId: 's-claimed', content: 'hi' })),
      'FORBIDDEN',
      'session_owned_by_other',
    );
    const { client: bobOnB } = b.wsClient({ token: bob });
    const theirs = collect<ChatItem>((h) => bobOnB.chat.onEvent.subscribe({ sessionId: 's-claimed' }, h));
    expectRefused(refusalOf(await theirs.failed()), 'FORBIDDEN', 'session_owned_by_other');

    // Alice may use her session on B; what she sends there reaches her subscriber on A.
    const { messageId } = await b.httpClient(alice).chat.send.mutate({ sessionId: 's-claimed', content: 'from the other node' });
    const items = await mine.until(
      (all) => all.some((i) => i.data.type === 'chat_message' && i.data.data.messageId === messageId),
      'her message on A',
    );
    expect(items.find((i) => i.data.type === 'chat_message')!.data.data).toMatchObject({ userId: 'alice', content: 'from the other node' });
  });

  test('the 11th connection of a user across A and B is closed 4008; a slot freed on A can be taken on B', async () => {
    await using nodes = await startTwoNodes();
    const { a, b } = nodes;
    const token = await a.token({ sub: 'many-tabs' });
    const open: RawWs[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const { ws, outcome } = await connect(i % 2 === 0 ? a : b, token);
        open.push(ws);
        expect(outcome, `connection ${i + 1}`).toBe('admitted');
      }
      expect(a.server.stats().connectionCounter.connections + b.server.stats().connectionCounter.connections).toBe(10);

      const eleventh = await connect(a, token);
      open.push(eleventh.ws);
      expect(eleventh.outcome).toBe(CloseCode.TOO_MANY_CONNECTIONS);
      expect(eleventh.ws.frames.find((f) => f.error)?.error?.json?.data?.reason).toBe('too_many_connections');
      const twelfth = await connect(b, token);
      open.push(twelfth.ws);
      expect(twelfth.outcome).toBe(CloseCode.TOO_MANY_CONNECTIONS);

      // Another user is not affected.
      const other = await connect(b, await b.token({ sub: 'someone-else' }));
      open.push(other.ws);
      expect(other.outcome).toBe('admitted');

      await open[0]!.close();
      // The release travels through Redis: retry until B sees the free slot.
      const again = await waitFor(
        async () => {
          const attempt = await connect(b, token);
          open.push(attempt.ws);
          return attempt.outcome;
        },
        (outcome) => outcome === 'admitted',
        'the slot freed on A to be free on B',
      );
      expect(again).toBe('admitted');
    } finally {
      await Promise.all(open.map((ws) => ws.close()));
    }
    for (const node of [a, b]) {
      await waitFor(
        () => node.server.stats(),
        (s) => s.connections === 0 && s.users === 0 && s.connectionCounter.connections === 0 && s.connectionCounter.users === 0,
        'every connection released',
      );
    }
  });

  test('a session watching an investigation on A gets the investigation’s events published on B', async () => {
    await using nodes = await startTwoNodes();
    const { a, b } = nodes;
    const alice = await a.token({ sub: 'alice', investigations: ['inv-watched'] });
    const { client } = a.wsClient({ token: alice });
    const chat = collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId: 's-watching' }, h));
    await chat.started;
    await client.chat.watchInvestigation.mutate({ sessionId: 's-watching', investigationId: 'inv-watched' });

    const { id } = await b.server.notifyInvestigationUpdate({
      investigationId: 'inv-watched',
      updateType: 'progress',
      data: { progress: 70, stage: 'scoring' },
    });
    await b.server.notifyAnomalyDetected({
      investigationId: 'inv-watched',
      anomaly: { severity: 'high', description: 'split purchases under the bid threshold', contractId: 'CT-3', confidence: 0.8 },
    });

    const [update, anomaly] = await chat.take(2);
    expect(id).toEqual(expect.any(String));
    expect(update!.data).toMatchObject({
      type: 'investigation_update',
      data: { investigationId: 'inv-watched', updateType: 'progress', progress: 70 },
    });
    expect(anomaly!.data).toMatchObject({ type: 'anomaly_detected', data: { investigationId: 'inv-watched', contractId: 'CT-3' } });
  });

  test('a broadcast sent on B reaches a user only ever seen on A, who is offline at the time', async () => {
    await using nodes = await startTwoNodes();
    const { a, b } = nodes;
    const token = await a.token({ sub: 'seen-on-a' });
    const first = await connect(a, token);
    expect(first.outcome).toBe('admitted');
    await first.ws.close();
    await waitFor(
      () => a.server.stats().connections,
      (n) => n === 0,
      'the user to be offline',
    );

    const service = await b.token({ sub: 'backend', roles: ['service'] });
    await b.httpClient(service).notification.send.mutate({ broadcast: true, title: 'maintenance', body: 'tonight at 22h', level: 'info' });

    const { client } = a.wsClient({ token });
    const inbox = collect<NotificationItem>((h) => client.notification.onNotification.subscribe({}, h));
    const [delivered] = await inbox.take(1);
    expect(delivered!.data).toMatchObject({ type: 'notification', data: { title: 'maintenance', body: 'tonight at 22h' } });
  });

  test('a user’s HTTP rate limit is one budget across A and B', async () => {
    // A 10-second window: the calls below all fall in one.
    await using nodes = await startTwoNodes({ RATE_LIMIT_PER_SECOND: 1, RATE_LIMIT_BURST: 10 });
    const { a, b } = nodes;
    const token = await a.token({ sub: 'busy' });
    const typing = (node: TestServer) => node.httpClient(token).chat.typing.mutate({ sessionId: 's-busy', isTyping: true });

    for (let i = 0; i < 10; i++) expect(await typing(i % 2 === 0 ? a : b)).toEqual({ ok: true });
    expectRefused(await rejectionOf(() => typing(a)), 'TOO_MANY_REQUESTS', 'rate_limited');
    expectRefused(await rejectionOf(() => typing(b)), 'TOO_MANY_REQUESTS', 'rate_limited');
  });
});
