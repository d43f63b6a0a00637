import { describe, expect, test } from 'vitest';
import type { InvestigationEvent } from '../../client/index';
import { TestEventSource } from '../support/eventSource';
import { startNoUpgradeProxy } from '../support/noUpgradeProxy';
import { describeWithRedis, REDIS_URL, uniquePrefix } from '../support/redis';
import { startServer, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';
import { isOpen, openClient, publishProgress, TopicCollector } from './helpers';

/**
 * The SDK behind a proxy that refuses WebSocket upgrades (403) but forwards
 * plain HTTP: in `auto` it gives the WebSocket up after two upgrades that
 * never opened, moves to Server-Sent Events by itself, and keeps its topics,
 * folds and resume semantics there.
 */

const hostOf = (srv: TestServer) => `127.0.0.1:${srv.address.port}`;
const userToken = (srv: TestServer) => srv.token({ sub: 'behind-proxy', investigations: ['*'] });

function expectOnceEach(events: readonly { id: string }[], ids: readonly string[]) {
  expect(events.map((e) => e.id)).toEqual(ids);
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
}

describe('SDK transport: SSE', () => {
  test('auto: upgrades refused by a proxy → falls back to SSE; events, calls over HTTP, and the transport reported', async () => {
    await using srv = await startServer();
    await using proxy = await startNoUpgradeProxy(() => hostOf(srv));
    const token = await userToken(srv);
    await using c = openClient({ url: proxy.wsUrl, getToken: () => token, EventSource: TestEventSource });
    const transports: string[] = [];
    c.client.onTransportChange((t) => transports.push(t));
    expect(c.client.transport).toBe('websocket');
    const topic = new TopicCollector<InvestigationEvent>(c.client.investigation('inv-auto'));
    await topic.started();
    expect(c.client.transport).toBe('sse');
    expect(transports).toEqual(['sse']);
    expect(proxy.upgradesRefused).toBe(2);
    await c.states.next(isOpen, 'open over SSE');
    const ids = await publishProgress(srv, 'inv-auto', 0, 10);
    expectOnceEach(await topic.take(10), ids);
    // Queries and mutations go over HTTP, with the token in the Authorization header.
    const session = await c.client.trpc.chat.createSession.mutate();
    expect(session).toMatchObject({ sessionId: expect.any(String) });
    // A fold reads the same stream.
    const folded = c.client.investigation('inv-auto');
    expect(folded.lastEventId).toBe(ids[9]);
    topic.unsubscribe();
    await waitFor(
      () => srv.server.stats().connectionCounter.connections,
      (n) => n === 0,
      'the stream released',
    );
    expect(proxy.upgradesRefused).toBe(2);
  });

  test("transport 'sse' never tries a WebSocket; the stream resumes from its last id after the server ends it", async () => {
    await using srv = await startServer();
    await using proxy = await startNoUpgradeProxy(() => hostOf(srv));
    const token = await userToken(srv);
    await using c = openClient({ url: proxy.wsUrl, getToken: () => token, EventSource: TestEventSource, transport: 'sse' });
    expect(c.client.transport).toBe('sse');
    const topic = new TopicCollector<InvestigationEvent>(c.client.investigation('inv-sse'));
    await topic.started();
    const first = await publishProgress(srv, 'inv-sse', 0, 5);
    await topic.take(5);
    expect(proxy.upgradesRefused).toBe(0);
    // The stream's socket is cut (as a proxy's idle timeout would): the EventSource reconnects with Last-Event-ID.
    for (const source of TestEventSource.instances) source.drop();
    const more = await publishProgress(srv, 'inv-sse', 5, 5);
    expectOnceEach(await topic.take(10), [...first, ...more]);
    expect(topic.errors).toEqual([]);
    // close(): every stream ends, none reconnects.
    const sources = TestEventSource.instances.filter((source) => source.url.startsWith(`http://127.0.0.1:${proxy.port}/`));
    await c.client.close();
    expect(sources.every((source) => source.readyState === TestEventSource.CLOSED)).toBe(true);
    await waitFor(
      () => srv.server.stats().connectionCounter.connections,
      (n) => n === 0,
      'every stream released',
    );
  });
});

describeWithRedis('SDK transport: SSE across a restart', () => {
  test('after falling back, a server restart on the same port costs nothing: nothing lost, nothing twice', async () => {
    const prefix = uniquePrefix();
    const shared = { redisUrl: REDIS_URL, redisKeyPrefix: prefix };
    let srv: TestServer = await startServer(shared);
    const port = srv.address.port;
    // A second node on the same Redis publishes while the first is down.
    await using publisher = await startServer(shared);
    await using proxy = await startNoUpgradeProxy(() => `127.0.0.1:${port}`);
    const token = await userToken(srv);
    try {
      await using c = openClient({ url: proxy.wsUrl, getToken: () => token, EventSource: TestEventSource });
      const topic = new TopicCollector<InvestigationEvent>(c.client.investigation('inv-restart'));
      await topic.started();
      expect(c.client.transport).toBe('sse');
      const before = await publishProgress(srv, 'inv-restart', 0, 10);
      await topic.take(10);

      const sourcesBefore = TestEventSource.instances.length;
      await srv.server.close();
      const whileDown = await publishProgress(publisher, 'inv-restart', 10, 10);
      // The EventSource's own reconnect (with Last-Event-ID) meets the proxy's 502 and gives up: the node
      // comes back only once the SDK opens the stream anew, so the resume rests on the SDK's last event id.
      await waitFor(
        () => TestEventSource.instances.length,
        (n) => n > sourcesBefore,
        'the SDK to open the stream anew',
      );
      srv = await startServer({ ...shared, port });
      await topic.started(2);
      const after = await publishProgress(srv, 'inv-restart', 20, 10);
      expectOnceEach(await topic.take(30), [...before, ...whileDown, ...after]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(topic.events).toHaveLength(30);
      expect(topic.errors).toEqual([]);
      expect(c.client.transport).toBe('sse');
    } finally {
      await srv[Symbol.asyncDispose]();
    }
  });
});
