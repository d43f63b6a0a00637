import { describe, expect, test } from 'vitest';
import type { PresenceEvent } from '../client/sdk/types';
import { createMemoryControlChannel, createRedisControlChannel } from '../server/cluster/controlChannel';
import { createLogger } from '../server/observability/logger';
import { presenceKey } from '../server/presence/presenceBackend';
import { createPresenceService } from '../server/presence/presenceService';
import { connectRedis } from '../server/redis/connect';
import { inputBounds } from '../shared/limits';
import { presenceEventSchema } from '../shared/presence';
import { startNodes } from './support/cluster';
import { type Collector, collect, type InvestigationItem } from './support/collect';
import { refusalOf, rejectionOf } from './support/errors';
import { startTestNode } from './support/nodeProcess';
import { RawWs } from './support/rawWs';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { startServer, type TestServer, waitForEmptyServer } from './support/server';
import { waitFor } from './support/wait';

type Watcher = Collector<PresenceEvent> & { close(): void };

async function watch(node: TestServer, investigationId: string, user = 'watcher'): Promise<Watcher> {
  const token = await node.token({ sub: user, investigations: [investigationId] });
  const { client, ws } = node.wsClient({ token });
  const watcher = collect<PresenceEvent>((o) => client.presence.onChange.subscribe({ investigationId }, o));
  await watcher.started;
  return Object.assign(watcher, { close: () => ws.close() });
}

/** One tab of `user` watching the investigation (tRPC), or on another node given its URL. */
async function tab(node: TestServer, user: string, investigationId: string, url?: string) {
  const token = await node.token({ sub: user, investigations: [investigationId] });
  const { client, ws } = node.wsClient({ token, url });
  const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
  await sub.started;
  return { sub, close: () => ws.close() };
}

/** The members a watcher knows of now: its state, then every change applied. */
function membersOf(events: readonly PresenceEvent[]): Map<string, number> {
  const members = new Map<string, number>();
  for (const event of events) {
    // What arrives is exactly what shared/presence.ts describes (superjson keeps the Dates).
    presenceEventSchema.parse(event);
    if (event.type === 'presence_state') {
      members.clear();
      for (const m of event.data.members) members.set(m.userId, m.connections);
    } else if (event.type === 'presence_join') members.set(event.data.userId, event.data.connections);
    else members.delete(event.data.userId);
  }
  return members;
}

function until(watcher: Watcher, expected: Record<string, number>, what = JSON.stringify(expected)) {
  return watcher.until((events) => {
    const members = membersOf(events);
    return members.size === Object.keys(expected).length && Object.entries(expected).every(([u, c]) => members.get(u) === c);
  }, `members ${what}`);
}

function presenceStats(node: TestServer) {
  return node.server.stats().presence;
}

const empty = { investigations: 0, members: 0, watchedInvestigations: 0, watchers: 0, pendingWrites: 0 };

describe('presence on one node', () => {
  test('state first, then joins and leaves; three tabs are one member with connections 3, which leaves with the last', async () => {
    await using srv = await startServer();
    const watcher = await watch(srv, 'inv-p');
    const [state] = await watcher.take(1);
    expect(state).toMatchObject({ type: 'presence_state', data: { investigationId: 'inv-p', members: [], total: 0 } });
    expect(state!.timestamp).toBeInstanceOf(Date);

    const tabs = [await tab(srv, 'ana', 'inv-p'), await tab(srv, 'ana', 'inv-p'), await tab(srv, 'ana', 'inv-p')];
    await until(watcher, { ana: 3 });
    const join = watcher.items.find((e) => e.type === 'presence_join')!;
    expect(join.data).toMatchObject({ investigationId: 'inv-p', userId: 'ana', total: 1 });
    expect(join.data.since).toBeInstanceOf(Date);

    // The query answers the same list; the watcher itself (presence only) is no member.
    const http = srv.httpClient(await srv.token({ sub: 'bob', investigations: ['inv-p'] }));
    const list = await http.presence.get.query({ investigationId: 'inv-p' });
    expect(list).toMatchObject({ investigationId: 'inv-p', members: [{ userId: 'ana', connections: 3 }], total: 1 });

    await tabs[0]!.close();
    await tabs[1]!.close();
    await until(watcher, { ana: 1 });
    expect(watcher.items.some((e) => e.type === 'presence_leave')).toBe(false);
    await tabs[2]!.close();
    const events = await watcher.until((items) => items.some((e) => e.type === 'presence_leave'), 'a leave');
    expect(events.at(-1)).toMatchObject({ type: 'presence_leave', data: { userId: 'ana', connections: 0, total: 0 } });
    expect(membersOf(events).size).toBe(0);

    // A later watcher starts from the current state.
    const late = await watch(srv, 'inv-p', 'late');
    expect((await late.take(1))[0]).toMatchObject({ type: 'presence_state', data: { members: [], total: 0 } });
  });

  test('the JSON dialect’s investigation subscription counts too; a watcher resubscribing gets the state again', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'carla', investigations: ['inv-j'] });
    await using json = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    json.send({ type: 'subscribe', data: { investigation_id: 'inv-j' } });
    await json.until(() => json.frames.find((f) => (f as { type?: string }).type === 'subscribed'), 'subscribed');
    const watcher = await watch(srv, 'inv-j');
    const [state] = await watcher.take(1);
    expect(state).toMatchObject({ type: 'presence_state', data: { members: [{ userId: 'carla', connections: 1 }], total: 1 } });
    json.send({ type: 'unsubscribe', data: { investigation_id: 'inv-j' } });
    await until(watcher, {});
    watcher.unsubscribe();
    const again = await watch(srv, 'inv-j');
    expect((await again.take(1))[0]).toMatchObject({ type: 'presence_state', data: { total: 0 } });
  });

  test('access is checked as for investigation.onUpdate: FORBIDDEN without the grant, for the subscription and the query', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'eve', investigations: ['inv-other'] });
    const { client } = srv.wsClient({ token });
    const refused = collect<PresenceEvent>((o) => client.presence.onChange.subscribe({ investigationId: 'inv-secret' }, o));
    expect(refusalOf(await refused.failed())).toEqual({ code: 'FORBIDDEN', reason: 'not_granted' });
    const http = srv.httpClient(token);
    expect(await rejectionOf(() => http.presence.get.query({ investigationId: 'inv-secret' }))).toEqual({
      code: 'FORBIDDEN',
      reason: 'not_granted',
    });
    // A wildcard grant and an admin may look.
    const admin = srv.httpClient(await srv.token({ sub: 'root', roles: ['admin'] }));
    expect(await admin.presence.get.query({ investigationId: 'inv-secret' })).toMatchObject({ total: 0 });
  });

  test('the list is capped at inputBounds.presenceListed, longest watching first; the total counts everyone', async () => {
    const logger = createLogger('silent');
    const control = createMemoryControlChannel(logger);
    const presence = createPresenceService({ control, logger, ttlMs: 30_000 });
    try {
      const untrack = [];
      for (let i = 0; i <= inputBounds.presenceListed; i++) untrack.push(presence.track('inv-big', `user-${i}`));
      const list = await presence.list('inv-big');
      expect(list.members).toHaveLength(inputBounds.presenceListed);
      expect(list.total).toBe(inputBounds.presenceListed + 1);
      for (const member of untrack) presence.untrack(member);
      expect(await presence.list('inv-big')).toMatchObject({ members: [], total: 0 });
      expect(presence.stats()).toMatchObject({ investigations: 0, members: 0 });
    } finally {
      await presence.close();
      await control.close();
    }
  });

  test('eraseUser takes the user out of presence (their later closes change nothing)', async () => {
    const logger = createLogger('silent');
    const control = createMemoryControlChannel(logger);
    const presence = createPresenceService({ control, logger, ttlMs: 30_000 });
    try {
      const leaveA = presence.track('inv-e', 'erased');
      presence.track('inv-f', 'erased');
      const keep = presence.track('inv-e', 'kept');
      await presence.eraseUser('erased');
      expect((await presence.list('inv-e')).members.map((m) => m.userId)).toEqual(['kept']);
      expect(await presence.list('inv-f')).toMatchObject({ total: 0 });
      presence.untrack(leaveA);
      presence.untrack(keep);
      expect(presence.stats()).toMatchObject({ investigations: 0, members: 0 });
    } finally {
      await presence.close();
      await control.close();
    }
  });

  test('every presence map is empty once everyone left (connect, subscribe, watch, disconnect)', async () => {
    await using srv = await startServer();
    const watcher = await watch(srv, 'inv-c');
    await watcher.take(1);
    const a = await tab(srv, 'u1', 'inv-c');
    const b = await tab(srv, 'u2', 'inv-c');
    await until(watcher, { u1: 1, u2: 1 });
    expect(presenceStats(srv)).toMatchObject({ investigations: 1, members: 2, watchedInvestigations: 1, watchers: 1 });
    // A stop ends the watcher at once (the transport's `return()`), while its connection stays.
    watcher.unsubscribe();
    await waitFor(
      () => presenceStats(srv).watchers,
      (n) => n === 0,
      'no watcher',
    );
    expect(srv.server.stats().subscriptions).toBe(2);
    watcher.close();
    await a.close();
    await b.close();
    await waitFor(
      () => presenceStats(srv),
      (s) => JSON.stringify(s) === JSON.stringify(empty),
      'empty presence maps',
    );
    await waitForEmptyServer(srv);
  });
});

describeWithRedis('presence across nodes sharing one Redis', () => {
  test('a join on A is seen by a watcher on B and the other way round; a user on both is one member with both connections', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const onA = await watch(a, 'inv-x', 'wa');
    const onB = await watch(b, 'inv-x', 'wb');
    await onA.take(1);
    await onB.take(1);

    const ana = await tab(a, 'ana', 'inv-x');
    await until(onB, { ana: 1 });
    const bruno = await tab(b, 'bruno', 'inv-x');
    await until(onA, { ana: 1, bruno: 1 });
    const anaOnB = await tab(b, 'ana', 'inv-x');
    await until(onA, { ana: 2, bruno: 1 });
    await until(onB, { ana: 2, bruno: 1 });
    const list = await b
      .httpClient(await b.token({ sub: 'q', investigations: ['inv-x'] }))
      .presence.get.query({ investigationId: 'inv-x' });
    expect(list.total).toBe(2);
    expect(list.members.find((m) => m.userId === 'ana')?.connections).toBe(2);

    await ana.close();
    await until(onB, { ana: 1, bruno: 1 });
    await anaOnB.close();
    await bruno.close();
    await until(onA, {});
    await until(onB, {});
    // Nothing is left in Redis once every node took its members out.
    await waitFor(
      () => cluster.redis.exists(presenceKey(cluster.prefix, 'inv-x')),
      (n) => n === 0,
      'the presence key gone',
    );
    onA.unsubscribe();
    onB.unsubscribe();
    for (const node of [a, b])
      await waitFor(
        () => presenceStats(node),
        (s) => JSON.stringify(s) === JSON.stringify(empty),
        'empty maps',
      );
  });

  test('the members of a node that was SIGKILLed leave for a watcher on another node once their entries expire', async () => {
    const ttl = 2;
    await using cluster = await startNodes(1, { limits: { PRESENCE_TTL_SECONDS: ttl } });
    const [b] = cluster.nodes as [TestServer];
    await using dying = await startTestNode({ REDIS_URL, REDIS_KEY_PREFIX: cluster.prefix, PRESENCE_TTL_SECONDS: String(ttl) });
    const watcher = await watch(b, 'inv-k');
    await watcher.take(1);
    const onDying = await tab(b, 'doomed', 'inv-k', dying.wsUrl);
    const onB = await tab(b, 'survivor', 'inv-k');
    await until(watcher, { doomed: 1, survivor: 1 });
    // Both nodes wrote their entries.
    await waitFor(
      () => cluster.redis.hgetall(presenceKey(cluster.prefix, 'inv-k')),
      (h) => Object.keys(h).length === 2,
      'two entries',
    );
    await dying.kill();
    const events = await watcher.until((items) => items.some((e) => e.type === 'presence_leave'), 'the dead node’s member leaving');
    expect(events.find((e) => e.type === 'presence_leave')).toMatchObject({ data: { userId: 'doomed', total: 1 } });
    expect(membersOf(events)).toEqual(new Map([['survivor', 1]]));
    await onDying.close();
    await onB.close();
  });

  test('eraseUser on one node takes the user out of presence on every node', async () => {
    const prefix = uniquePrefix();
    const logger = createLogger('silent');
    const services = [0, 1].map(() => {
      const redis = connectRedis({ url: REDIS_URL }, prefix, logger);
      const control = createRedisControlChannel(redis, logger);
      return { redis, control, presence: createPresenceService({ control, logger, redis, ttlMs: 30_000 }) };
    });
    try {
      const [a, b] = services as [(typeof services)[0], (typeof services)[0]];
      await Promise.all(services.map((s) => s.redis.ready()));
      a.presence.track('inv-g', 'gone');
      b.presence.track('inv-g', 'gone');
      b.presence.track('inv-g', 'stays');
      await waitFor(
        () => a.presence.list('inv-g'),
        (l) => l.total === 2 && l.members.find((m) => m.userId === 'gone')?.connections === 2,
        'two members',
      );
      await a.presence.eraseUser('gone');
      const list = await waitFor(
        () => b.presence.list('inv-g'),
        (l) => l.total === 1,
        'the erased user gone',
      );
      expect(list.members.map((m) => m.userId)).toEqual(['stays']);
      expect(a.presence.stats().members).toBe(0);
    } finally {
      for (const s of services) {
        await s.presence.close();
        await s.control.close();
        await s.redis.close();
      }
    }
  });
});
