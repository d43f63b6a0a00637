import type { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { describe, expect, test } from 'vitest';
import type { RealtimeEvent } from '../shared/events';
import { capturedLogger } from './support/capturedLogger';
import { startNodes } from './support/cluster';
import { expectRefused, rejectionOf } from './support/errors';
import { type Frame, RawWs } from './support/rawWs';
import { describeWithRedis, REDIS_URL } from './support/redis';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

/**
 * Operator actions (admin.*): revocation of access and tokens, disconnects
 * and erasure, on two nodes sharing one Redis and on one in-memory node.
 * Every wait is for an outcome, never a duration.
 */

/** An operator's HTTP client (service role). */
async function operator(node: TestServer, roles = ['service']) {
  return node.httpClient(await node.token({ sub: 'ops', roles }));
}

const jtiOf = (token: string) => decodeJwt(token).jti as string;

function progress(node: TestServer, investigationId: string, value: number) {
  return node.server.notifyInvestigationUpdate({
    investigationId,
    updateType: 'progress',
    data: { progress: value % 101, stage: `step ${value}` },
  });
}

/** A tRPC connection by hand (every frame visible), subscribed as call `id` to each investigation given. */
async function rpcSubscriber(node: TestServer, token: string, investigationIds: string[]) {
  const raw = await RawWs.open(`${node.address.wsUrl}?token=${token}`);
  for (const [i, investigationId] of investigationIds.entries()) {
    raw.request(i + 1, 'subscription', 'investigation.onUpdate', { investigationId });
    expect((await raw.response(i + 1)).result?.type).toBe('started');
  }
  return raw;
}

type DialectFrame = Frame & { type?: string; id?: string; data?: Record<string, unknown> };

/** A plain JSON dialect connection on the per-resource path, subscribed at connect. */
async function jsonSubscriber(node: TestServer, token: string, investigationId: string) {
  const raw = await RawWs.open(`${node.address.wsUrl}/investigations/${investigationId}?token=${token}`);
  await raw.frame((f) => (f as DialectFrame).type === 'subscribed', 'subscribed');
  return raw;
}

function dialectEventIds(raw: RawWs): string[] {
  return (raw.frames as DialectFrame[]).filter((f) => f.type === 'investigation_update').map((f) => f.id!);
}

const idsOf = (events: RealtimeEvent[]) => events.map((e) => e.id);

/** Subscribing as call 1 over a new connection: the error it got, or 'started'. */
async function trySubscribe(node: TestServer, token: string, investigationId: string) {
  await using raw = await RawWs.open(`${node.address.wsUrl}?token=${token}`);
  raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId });
  const frame = await raw.response(1);
  if (frame.result?.type === 'started') return 'started';
  return (frame.error?.json ?? frame.error)?.data;
}

/** Waits until a token issued now has an `iat` (whole seconds) after `revokedAt`. */
async function nextSecondAfter(revokedAt: string) {
  const at = Date.parse(revokedAt);
  await waitFor(
    () => Math.floor(Date.now() / 1000) * 1000,
    (issuedAt) => issuedAt > at,
    'a second after the revocation',
  );
}

/** Every key under the prefix with its contents, as one JSON text per key. */
async function dumpKeys(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const dump = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000');
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let contents: unknown;
      if (type === 'string') contents = await redis.get(key);
      else if (type === 'hash') contents = await redis.hgetall(key);
      else if (type === 'set') contents = await redis.smembers(key);
      else if (type === 'zset') contents = await redis.zrange(key, '0', '-1');
      else if (type === 'list') contents = await redis.lrange(key, 0, -1);
      else if (type === 'stream') contents = await redis.xrange(key, '-', '+');
      dump.set(key, JSON.stringify(contents));
    }
  } while (cursor !== '0');
  return dump;
}

/** The keys whose name or contents name `userId`. */
async function keysNaming(redis: Redis, prefix: string, userId: string): Promise<string[]> {
  const dump = await dumpKeys(redis, prefix);
  return [...dump].filter(([key, contents]) => key.includes(userId) || contents.includes(userId)).map(([key]) => key);
}

describeWithRedis('admin actions on two nodes sharing one Redis', () => {
  test('revokeAccess: once it resolved, nothing published afterwards reaches the user on either node; the old token cannot subscribe again, a newer one can', async () => {
    const { logger, events: logged } = capturedLogger();
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    // The operator's node logs: the action is recorded, never a token.
    await using c = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: cluster.prefix, logger });
    const victim = 'mallory-ra';
    const oldToken = await a.token({ sub: victim, investigations: ['inv-r', 'inv-keep'] });
    const aliceToken = await a.token({ sub: 'alice-ra', investigations: ['inv-r'] });
    const onA = await rpcSubscriber(a, oldToken, ['inv-r', 'inv-keep']);
    const onB = await rpcSubscriber(b, oldToken, ['inv-r', 'inv-keep']);
    const dialectOnB = await jsonSubscriber(b, oldToken, 'inv-r');
    const aliceOnA = await rpcSubscriber(a, aliceToken, ['inv-r']);
    const aliceOnB = await rpcSubscriber(b, aliceToken, ['inv-r']);

    const before = (await progress(a, 'inv-r', 0)).id;
    for (const raw of [onA, onB, aliceOnA, aliceOnB]) expect(idsOf(await raw.waitForEvents(1, 1))).toEqual([before]);
    await dialectOnB.until(() => (dialectEventIds(dialectOnB).length === 1 ? true : undefined), 'the dialect to get the first event');

    const revoked = await (await operator(c)).admin.revokeAccess.mutate({ userId: victim, investigationId: 'inv-r' });
    expect(revoked).toMatchObject({ ok: true });

    const after: string[] = [];
    for (let i = 1; i <= 5; i++) {
      after.push((await progress(a, 'inv-r', i)).id);
      after.push((await progress(b, 'inv-r', 100 + i)).id);
    }
    // Published after the whole series: once it arrived, the series had its chance to arrive too.
    const keep = (await progress(b, 'inv-keep', 1)).id;

    // Other users got everything, on both nodes.
    for (const raw of [aliceOnA, aliceOnB]) expect(idsOf(await raw.waitForEvents(1, 1 + after.length))).toEqual([before, ...after]);
    // The user's subscription ended with FORBIDDEN access_revoked on both nodes, in both dialects.
    for (const raw of [onA, onB]) {
      expect(await raw.errorResponse(1)).toMatchObject({ data: { code: 'FORBIDDEN', reason: 'access_revoked' } });
      // Their other subscription is untouched.
      expect(idsOf(await raw.waitForEvents(2, 1))).toEqual([keep]);
      expect(idsOf(raw.events(1))).toEqual([before]);
    }
    const dialectError = (await dialectOnB.frame((f) => (f as DialectFrame).type === 'error', 'the error frame')) as DialectFrame;
    expect(dialectError.data).toMatchObject({ code: 'FORBIDDEN', reason: 'access_revoked' });
    // A per-resource connection has nothing left to serve: closed normally.
    expect((await dialectOnB.closed).code).toBe(1000);
    expect(dialectEventIds(dialectOnB)).toEqual([before]);

    // The old token is refused on every node; a token issued after the revocation is not.
    for (const node of [a, b])
      expect(await trySubscribe(node, oldToken, 'inv-r')).toMatchObject({ code: 'FORBIDDEN', reason: 'access_revoked' });
    expect(await trySubscribe(a, oldToken, 'inv-keep')).toBe('started');
    await nextSecondAfter(revoked.revokedAt);
    const newToken = await a.token({ sub: victim, investigations: ['inv-r'] });
    const again = await rpcSubscriber(b, newToken, ['inv-r']);
    const live = (await progress(a, 'inv-r', 50)).id;
    expect(idsOf(await again.waitForEvents(1, 1))).toEqual([live]);

    expect(logged('admin_action')).toEqual([
      expect.objectContaining({ action: 'revokeAccess', by: 'ops', userId: victim, resource: 'investigation:inv-r' }),
    ]);
    expect(JSON.stringify(logged('admin_action'))).not.toContain(oldToken);
    for (const raw of [onA, onB, aliceOnA, aliceOnB, again]) await raw.close();
  });

  test('disconnectUser: every connection of the user on both nodes closes with 4003; other users are not touched', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const victim = 'mallory-dc';
    const token = await a.token({ sub: victim, investigations: ['inv-d'] });
    const otherToken = await a.token({ sub: victim, investigations: ['inv-d'] });
    const aliceToken = await a.token({ sub: 'alice-dc', investigations: ['inv-d'] });
    const victims = [
      await rpcSubscriber(a, token, ['inv-d']),
      await jsonSubscriber(a, otherToken, 'inv-d'),
      await rpcSubscriber(b, token, ['inv-d']),
      await RawWs.open(`${b.address.wsUrl}?token=${otherToken}`),
    ];
    const alice = [await rpcSubscriber(a, aliceToken, ['inv-d']), await rpcSubscriber(b, aliceToken, ['inv-d'])];
    // The bare connection is admitted (it answers a call) before the action.
    victims[3]!.request(9, 'query', 'system.health');
    await victims[3]!.response(9);

    expect(await (await operator(b)).admin.disconnectUser.mutate({ userId: victim, reason: 'account suspended' })).toMatchObject({
      ok: true,
    });
    for (const raw of victims) expect(await raw.closed).toEqual({ code: 4003, reason: 'account suspended' });

    const id = (await progress(b, 'inv-d', 1)).id;
    for (const raw of alice) {
      expect(idsOf(await raw.waitForEvents(1, 1))).toEqual([id]);
      expect(raw.isOpen).toBe(true);
      await raw.close();
    }
  });

  test('revokeToken: its connections close with 4001 on both nodes, it is refused at connect and over HTTP, another token of the user works', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const victim = 'mallory-rt';
    const stolen = await a.token({ sub: victim, investigations: ['inv-t'] });
    const other = await a.token({ sub: victim, investigations: ['inv-t'] });
    const stolenOnA = await rpcSubscriber(a, stolen, ['inv-t']);
    const stolenOnB = await jsonSubscriber(b, stolen, 'inv-t');
    const otherOnB = await rpcSubscriber(b, other, ['inv-t']);

    expect(await (await operator(a, ['admin'])).admin.revokeToken.mutate({ jti: jtiOf(stolen) })).toEqual({ ok: true });
    for (const raw of [stolenOnA, stolenOnB]) expect(await raw.closed).toEqual({ code: 4001, reason: 'token_revoked' });

    for (const node of [a, b]) {
      // At connect: `?token=` is verified at once, and the connection closed with 4001.
      const raw = await RawWs.open(`${node.address.wsUrl}?token=${stolen}`);
      expect(await raw.closed).toEqual({ code: 4001, reason: 'token_revoked' });
      expectRefused(await rejectionOf(() => node.httpClient(stolen).chat.createSession.mutate({})), 'UNAUTHORIZED', 'token_revoked');
      // The user's other token is not revoked.
      expect(await node.httpClient(other).chat.createSession.mutate({})).toMatchObject({ sessionId: expect.any(String) });
    }
    const id = (await progress(a, 'inv-t', 1)).id;
    expect(idsOf(await otherOnB.waitForEvents(1, 1))).toEqual([id]);
    expect(otherOnB.isOpen).toBe(true);
    await otherOnB.close();
  });

  test('eraseUser: chat sessions, their messages, notifications, cursor, known-users entry, rate-limit state, leases and presence are gone from Redis', async () => {
    await using cluster = await startNodes(2);
    const [a, b] = cluster.nodes as [TestServer, TestServer];
    const victim = 'mallory-erase';
    const bystander = 'alice-erase';
    const token = await a.token({ sub: victim, investigations: ['inv-e'] });
    const aliceToken = await a.token({ sub: bystander, investigations: ['inv-e'] });

    // Two chat sessions with a conversation each (the assistant's reply complete), one watching inv-e.
    const http = a.httpClient(token);
    const sessions = [(await http.chat.createSession.mutate({})).sessionId, (await http.chat.createSession.mutate({})).sessionId];
    await http.chat.watchInvestigation.mutate({ sessionId: sessions[0]!, investigationId: 'inv-e' });
    const chatOnB = await RawWs.open(`${b.address.wsUrl}?token=${token}`);
    for (const [i, sessionId] of sessions.entries()) {
      chatOnB.request(i + 1, 'subscription', 'chat.onEvent', { sessionId });
      expect((await chatOnB.response(i + 1)).result?.type).toBe('started');
      await http.chat.send.mutate({ sessionId, content: 'what is the status?' });
      await chatOnB.until(
        () => (chatOnB.events(i + 1).some((e) => e.type === 'chat_message' && e.data.role === 'assistant') ? true : undefined),
        "the assistant's reply",
      );
    }
    // Notifications: three for the user (delivered, so the cursor moved), one for the bystander.
    const notifications = await RawWs.open(`${a.address.wsUrl}?token=${token}`);
    notifications.request(1, 'subscription', 'notification.onNotification', {});
    for (let i = 0; i < 3; i++) await a.server.sendNotification({ userIds: [victim], title: `n${i}`, body: 'b', level: 'info' });
    await a.server.sendNotification({ userIds: [bystander], title: 'kept', body: 'b', level: 'info' });
    await notifications.waitForEvents(1, 3);
    const investigation = await rpcSubscriber(b, token, ['inv-e']);
    const alice = await rpcSubscriber(a, aliceToken, ['inv-e']);
    await waitFor(
      () => keysNaming(cluster.redis, cluster.prefix, victim),
      (keys) => keys.some((k) => k.includes('cursor')) && keys.some((k) => k.includes('rl:')),
      'the cursor and the rate-limit state to be written',
    );

    const removed = await (await operator(b)).admin.eraseUser.mutate({ userId: victim });
    expect(removed).toMatchObject({ chatSessions: 2, notifications: 3, cursors: 1, knownUsers: 1, rateLimits: 1 });
    expect(removed.chatMessages).toBeGreaterThanOrEqual(4);

    // Every connection of the user was closed (4003), on both nodes.
    for (const raw of [chatOnB, notifications, investigation]) expect((await raw.closed).code).toBe(4003);
    // Nothing in Redis names the user any more (key or contents); the bystander's data is still there.
    await waitFor(
      () => keysNaming(cluster.redis, cluster.prefix, victim),
      (keys) => keys.length === 0,
      'no key naming the erased user',
    );
    expect(await keysNaming(cluster.redis, cluster.prefix, bystander)).not.toEqual([]);
    const id = (await progress(b, 'inv-e', 1)).id;
    expect(idsOf(await alice.waitForEvents(1, 1))).toEqual([id]);
    await alice.close();
  });

  test('revocation records name the user only by a hash, and expire with the longest token life', async () => {
    await using cluster = await startNodes(1, { limits: { MAX_TOKEN_LIFETIME_SECONDS: 3600 } });
    const [a] = cluster.nodes as [TestServer];
    const ops = await operator(a);
    await ops.admin.revokeAccess.mutate({ userId: 'mallory-keys', analysisId: 'an-1' });
    const token = await a.token({ sub: 'mallory-keys' });
    await ops.admin.revokeToken.mutate({ jti: jtiOf(token) });
    const dump = await dumpKeys(cluster.redis, cluster.prefix);
    const keys = [...dump.keys()].filter((k) => k.endsWith(':revoked'));
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => k.startsWith(`${cluster.prefix}{u:`))).toBe(true);
    expect(keys).toContain(`${cluster.prefix}{jti:${jtiOf(token)}}:revoked`);
    expect(await keysNaming(cluster.redis, cluster.prefix, 'mallory-keys')).toEqual([]);
    for (const key of keys) {
      const ttl = await cluster.redis.pttl(key);
      expect(ttl).toBeGreaterThan(3_600_000);
      expect(ttl).toBeLessThanOrEqual(3_660_000);
    }
  });
});

describe('admin actions on one in-memory node', () => {
  test('only the service and admin roles may act: a user gets FORBIDDEN admin_role_required', async () => {
    await using srv = await startServer();
    const user = srv.httpClient(await srv.token({ sub: 'eve', roles: ['user'] }));
    for (const call of [
      () => user.admin.disconnectUser.mutate({ userId: 'bob' }),
      () => user.admin.revokeAccess.mutate({ userId: 'bob', investigationId: 'inv-1' }),
      () => user.admin.revokeToken.mutate({ jti: 'x' }),
      () => user.admin.eraseUser.mutate({ userId: 'bob' }),
    ]) {
      expectRefused(await rejectionOf(call), 'FORBIDDEN', 'admin_role_required');
    }
    // Over the WebSocket too.
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'eve' }) });
    expectRefused(await rejectionOf(() => client.admin.eraseUser.mutate({ userId: 'bob' })), 'FORBIDDEN', 'admin_role_required');
    expectRefused(await rejectionOf(() => srv.httpClient().admin.eraseUser.mutate({ userId: 'bob' })), 'UNAUTHORIZED', 'token_missing');
    const { client: adminWs } = srv.wsClient({ token: await srv.token({ sub: 'root', roles: ['admin'] }) });
    expect(await adminWs.admin.disconnectUser.mutate({ userId: 'bob' })).toEqual({ ok: true });
  });

  test('revokeAccess, disconnectUser and revokeToken', async () => {
    await using srv = await startServer();
    const ops = await operator(srv);
    const token = await srv.token({ sub: 'mallory', investigations: ['inv-1', 'inv-2'] });
    const other = await srv.token({ sub: 'mallory', analyses: ['an-1'] });
    const raw = await rpcSubscriber(srv, token, ['inv-1', 'inv-2']);
    const aliceRaw = await rpcSubscriber(srv, await srv.token({ sub: 'alice', investigations: ['inv-1'] }), ['inv-1']);

    const revoked = await ops.admin.revokeAccess.mutate({ userId: 'mallory', investigationId: 'inv-1' });
    const after = (await progress(srv, 'inv-1', 1)).id;
    expect(await raw.errorResponse(1)).toMatchObject({ data: { code: 'FORBIDDEN', reason: 'access_revoked' } });
    expect(idsOf(await aliceRaw.waitForEvents(1, 1))).toEqual([after]);
    const inv2 = (await progress(srv, 'inv-2', 1)).id;
    expect(idsOf(await raw.waitForEvents(2, 1))).toEqual([inv2]);
    expect(raw.events(1)).toEqual([]);
    expect(await trySubscribe(srv, token, 'inv-1')).toMatchObject({ code: 'FORBIDDEN', reason: 'access_revoked' });
    await nextSecondAfter(revoked.revokedAt);
    expect(await trySubscribe(srv, await srv.token({ sub: 'mallory', investigations: ['inv-1'] }), 'inv-1')).toBe('started');

    const otherRaw = await RawWs.open(`${srv.address.wsUrl}?token=${other}`);
    otherRaw.request(1, 'subscription', 'analysis.onUpdate', { analysisId: 'an-1' });
    await otherRaw.response(1);
    await ops.admin.revokeToken.mutate({ jti: jtiOf(token) });
    expect(await raw.closed).toEqual({ code: 4001, reason: 'token_revoked' });
    expect(otherRaw.isOpen).toBe(true);
    expectRefused(await rejectionOf(() => srv.httpClient(token).chat.createSession.mutate({})), 'UNAUTHORIZED', 'token_revoked');

    await ops.admin.disconnectUser.mutate({ userId: 'mallory' });
    expect((await otherRaw.closed).code).toBe(4003);
    expect(aliceRaw.isOpen).toBe(true);
    await aliceRaw.close();
    await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === 0 && s.subscriptions === 0,
      'every connection gone',
    );
  });

  test('eraseUser: the memory stores hold nothing of the user afterwards', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'mallory', investigations: ['inv-1'] });
    const http = srv.httpClient(token);
    const { sessionId } = await http.chat.createSession.mutate({});
    await http.chat.watchInvestigation.mutate({ sessionId, investigationId: 'inv-1' });
    const raw = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    raw.request(1, 'subscription', 'chat.onEvent', { sessionId });
    raw.request(2, 'subscription', 'notification.onNotification', {});
    await raw.response(1);
    await raw.response(2);
    await http.chat.send.mutate({ sessionId, content: 'hello' });
    await raw.until(
      () => (raw.events(1).some((e) => e.type === 'chat_message' && e.data.role === 'assistant') ? true : undefined),
      'the reply',
    );
    await srv.server.sendNotification({ userIds: ['mallory'], title: 't', body: 'b', level: 'info' });
    await raw.waitForEvents(2, 1);
    await waitFor(
      () => srv.server.stats().notificationCursors,
      (n) => n === 1,
      'the cursor',
    );

    const removed = await (await operator(srv)).admin.eraseUser.mutate({ userId: 'mallory' });
    expect(removed).toMatchObject({ chatSessions: 1, notifications: 1, cursors: 1, knownUsers: 1, rateLimits: 1 });
    expect(removed.chatMessages).toBeGreaterThanOrEqual(2);
    expect((await raw.closed).code).toBe(4003);
    const stats = await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === 0,
      'the connection gone',
    );
    expect(stats.chat).toMatchObject({ chatSessions: 0, chatOwners: 0, watchedInvestigations: 0 });
    expect(stats.knownUsers).toBe(0);
    expect(stats.notificationCursors).toBe(0);
    expect(stats.connectionCounter).toEqual({ users: 0, connections: 0 });
    // The session's history is gone: an admin reading it from the start gets nothing.
    const reader = await RawWs.open(`${srv.address.wsUrl}?token=${await srv.token({ sub: 'root', roles: ['admin'] })}`);
    reader.request(1, 'subscription', 'chat.onEvent', { sessionId, lastEventId: '0-0' });
    expect((await reader.response(1)).result?.type).toBe('started');
    reader.request(2, 'query', 'system.health');
    await reader.response(2);
    expect(reader.events(1).filter((e) => e.type !== 'resync_required')).toEqual([]);
    await reader.close();
  });
});
