import { expect, test } from 'vitest';
import { topicKeys } from '../server/redis/topicKeys';
import { startNodes } from './support/cluster';
import { collect, type InvestigationItem, type NotificationItem } from './support/collect';
import { describeWithRedis } from './support/redis';
import type { TestServer } from './support/server';
import { waitFor } from './support/wait';

async function subscriber(node: TestServer, user: string, investigationId: string, lastEventId?: string) {
  const token = await node.token({ sub: user, investigations: [investigationId] });
  const { client } = node.wsClient({ token });
  const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId, lastEventId }, o));
  await sub.started;
  return sub;
}

function progress(node: TestServer, investigationId: string, value: number) {
  return node.server.notifyInvestigationUpdate({
    investigationId,
    updateType: 'progress',
    data: { progress: value % 101, stage: `step ${value}` },
  });
}

describeWithRedis('several nodes sharing one Redis', () => {
  test('published on A, received on B and C in order, with the same ids and history everywhere', async () => {
    await using cluster = await startNodes(3);
    const [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
    const onB = await subscriber(b, 'u-b', 'inv-1');
    const onC = await subscriber(c, 'u-c', 'inv-1');
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await progress(a, 'inv-1', i)).id);
    const anomaly = await a.server.notifyAnomalyDetected({
      investigationId: 'inv-1',
      anomaly: { severity: 'critical', description: 'overpriced', contractId: 'CT-1', confidence: 0.9 },
    });
    ids.push(anomaly.id);
    for (const sub of [onB, onC]) {
      const got = await sub.take(ids.length);
      expect(got.map((item) => item.id)).toEqual(ids);
      expect(got.at(-1)!.data).toMatchObject({ type: 'anomaly_detected', data: { severity: 'critical' } });
      expect(got[0]!.data.timestamp).toBeInstanceOf(Date);
    }
  });

  test('a client takes 3 events on A, leaves, 3 more are published, it resumes on B and gets exactly the 3 missed', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const first = await subscriber(a, 'mover', 'inv-2');
    const before = [];
    for (let i = 0; i < 3; i++) before.push((await progress(a, 'inv-2', i)).id);
    const seen = await first.take(3);
    expect(seen.map((item) => item.id)).toEqual(before);
    first.unsubscribe();

    const missed = [];
    for (let i = 3; i < 6; i++) missed.push((await progress(b, 'inv-2', i)).id);
    const resumed = await subscriber(b, 'mover', 'inv-2', seen.at(-1)!.id);
    const live = (await progress(a, 'inv-2', 6)).id;
    const got = await resumed.take(4);
    expect(got.map((item) => item.id)).toEqual([...missed, live]);
  });

  test('resuming on other nodes while events are published in a tight loop loses and duplicates nothing (10 000 events)', async () => {
    await using cluster = await startNodes(2, { limits: { HISTORY_SIZE: 20_000, RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000 } });
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const total = 10_000;
    const ids: string[] = [];
    const resuming: Promise<{ from: number; sub: Awaited<ReturnType<typeof subscriber>> }>[] = [];
    // Publish on A in a tight loop; every 1 000 events a client starts resuming (on B or A) from an
    // id published earlier, without pausing the loop: the switch from replay to live happens while
    // events keep arriving.
    for (let i = 0; i < total; i++) {
      ids.push((await progress(a, 'inv-race', i)).id);
      if (i > 0 && i % 1_000 === 0) {
        const from = i - 500;
        const node = resuming.length % 2 === 0 ? b : a;
        resuming.push(subscriber(node, `r${resuming.length}`, 'inv-race', ids[from]).then((sub) => ({ from, sub })));
      }
    }
    const resumers = await Promise.all(resuming);
    for (const { from, sub } of resumers) {
      const expected = ids.slice(from + 1);
      const got = await sub.take(expected.length);
      expect(got.length).toBe(expected.length);
      expect(got.map((item) => item.id)).toEqual(expected);
    }
  }, 120_000);

  test('a node listens to a topic channel only while it has local subscribers of it', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const channel = topicKeys(cluster.prefix, 'investigation:inv-ch').channel;
    const listeners = async () => {
      const reply = (await cluster.redis.pubsub('NUMSUB', channel)) as [string, number];
      return Number(reply[1]);
    };
    expect(await listeners()).toBe(0);
    const onA = await subscriber(a, 'u1', 'inv-ch');
    const alsoOnA = await subscriber(a, 'u2', 'inv-ch');
    expect(await listeners()).toBe(1); // one per node, however many local subscribers
    const onB = await subscriber(b, 'u3', 'inv-ch');
    expect(await listeners()).toBe(2);
    onA.unsubscribe();
    await waitFor(
      () => a.server.stats().subscriptions,
      (n) => n === 1,
      'one subscription left on A',
    );
    expect(await listeners()).toBe(2);
    alsoOnA.unsubscribe();
    await waitFor(listeners, (n) => n === 1, 'A to drop the channel with its last subscriber');
    onB.unsubscribe();
    await waitFor(listeners, (n) => n === 0, 'B to drop it too');
  });

  test("an offline user's notification is delivered once, on whichever node they next subscribe", async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const sent = await a.server.sendNotification({ userIds: ['offline-user'], title: 'Report ready', body: 'inv-9', level: 'info' });
    const token = await b.token({ sub: 'offline-user' });

    const first = collect<NotificationItem>((o) => b.wsClient({ token }).client.notification.onNotification.subscribe(undefined, o));
    const [delivered] = await first.take(1);
    expect(delivered!.id).toBe(sent.ids[0]);
    expect(delivered!.data).toMatchObject({ type: 'notification', data: { title: 'Report ready' } });
    first.unsubscribe();

    // Back on A later: the delivered cursor lives in Redis, so the old one is not repeated.
    const second = collect<NotificationItem>((o) => a.wsClient({ token }).client.notification.onNotification.subscribe(undefined, o));
    await second.started;
    const fresh = await b.server.sendNotification({ userIds: ['offline-user'], title: 'Second', body: 'new', level: 'warning' });
    const [next] = await second.take(1);
    expect(next!.id).toBe(fresh.ids[0]);
  });
});
