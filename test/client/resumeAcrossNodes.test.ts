import { expect, test } from 'vitest';
import { describeWithRedis, REDIS_URL, uniquePrefix } from '../support/redis';
import { startServer, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';
import { Gate, isOpen, isReconnecting, openClient, publishProgress, TopicCollector } from './helpers';

/** Nodes of one deployment: one Redis and one key prefix, so ids and history are shared and survive a node. */
function deployment() {
  const shared = { redisUrl: REDIS_URL, redisKeyPrefix: uniquePrefix() };
  const nodes: TestServer[] = [];
  return {
    async start(port?: number): Promise<TestServer> {
      const node = await startServer({ ...shared, ...(port === undefined ? {} : { port }) });
      nodes.push(node);
      return node;
    },
    async [Symbol.asyncDispose]() {
      // Closing is idempotent, so nodes a test already stopped are fine here.
      for (const node of nodes) await node[Symbol.asyncDispose]();
    },
  };
}

/** Once `sub` has as many events as were published: exactly those, in publish order, none twice, and no error. */
async function expectEachOnceInOrder(sub: TopicCollector<{ id: string; type: string }>, published: readonly string[]) {
  await sub.take(published.length);
  const ids = sub.events.map((e) => e.id);
  expect(ids).toEqual(published);
  expect(new Set(ids).size).toBe(ids.length);
  expect(sub.errors).toEqual([]);
}

describeWithRedis('resume across a restart and across nodes (Redis)', () => {
  test('the server restarts mid-stream on the same port: the subscription resumes with nothing lost and nothing repeated', async () => {
    await using cluster = deployment();
    const node = await cluster.start();
    // Another node of the deployment, to publish while the client's node is down.
    const other = await cluster.start();
    const token = await node.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: node.address.wsUrl, getToken: () => token });
    const sub = new TopicCollector(c.client.investigation('inv-1'));
    await sub.started();
    const before = await publishProgress(node, 'inv-1', 0, 3);
    await sub.take(3);

    await node.server.close();
    expect(await c.states.next(isReconnecting, 'the client to notice the shutdown')).toMatchObject({ code: 1001 });
    const missed = await publishProgress(other, 'inv-1', 3, 3);
    // Publishing goes on while the node comes back and the client resubscribes:
    // the switch from replay to live happens under a stream of events.
    const streaming = publishProgress(other, 'inv-1', 6, 200);
    const restarted = await cluster.start(node.address.port);
    expect(restarted.address.wsUrl).toBe(node.address.wsUrl);
    await sub.started(2);
    const stream = await streaming;
    const live = await publishProgress(restarted, 'inv-1', 206, 2);

    await expectEachOnceInOrder(sub, [...before, ...missed, ...stream, ...live]);
    expect(restarted.server.stats().connections).toBe(1);
  }, 60_000);

  test('a client moved to another node (url function, first node closed) resumes the same way', async () => {
    await using cluster = deployment();
    const a = await cluster.start();
    const b = await cluster.start();
    let target = a.address.wsUrl;
    let tokens = 0;
    const reconnectMayProceed = new Gate();
    const token = await a.token({ sub: 'analyst', investigations: ['inv-2'] });
    await using c = openClient({
      url: () => target,
      getToken: async () => {
        // The reconnect waits here until the test has published what it must then replay.
        if (tokens++ > 0) await reconnectMayProceed.opened;
        return token;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-2'));
    await sub.started();
    const before = await publishProgress(a, 'inv-2', 0, 3);
    await sub.take(3);

    target = b.address.wsUrl; // what a load balancer would do once A is drained
    await a.server.close();
    await c.states.next(isReconnecting, 'the client to leave A');
    await waitFor(
      () => tokens,
      (n) => n === 2,
      'the reconnect to ask for its token',
    );
    const missed = await publishProgress(b, 'inv-2', 3, 3);
    const streaming = publishProgress(b, 'inv-2', 6, 200);
    reconnectMayProceed.open();
    await c.states.next(isOpen, 'the client to open on B');
    await sub.started(2);
    const stream = await streaming;
    const live = await publishProgress(b, 'inv-2', 206, 1);

    await expectEachOnceInOrder(sub, [...before, ...missed, ...stream, ...live]);
    expect(b.server.stats().connections).toBe(1);
    expect(b.server.stats().subscriptions).toBe(1);
  }, 60_000);
});
