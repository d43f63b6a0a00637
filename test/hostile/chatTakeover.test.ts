import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { chatSessionKeys } from '../../server/chat/redisSessionStore';
import { type ChatItem, type Collector, collect } from '../support/collect';
import { refusalOf, rejectionOf } from '../support/errors';
import { type NodeProcess, startTestNode } from '../support/nodeProcess';
import { describeWithRedis, REDIS_URL, uniquePrefix } from '../support/redis';
import { startServer, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';

/**
 * Issue 10: a chat session could be taken over. Its owner stayed subscribed
 * but idle past HISTORY_TTL_SECONDS, or Redis lost its data; the next user to
 * touch the session then owned it, replayed the events of investigations they
 * are not granted, wrote into the conversation and locked the owner out.
 *
 * The node under test runs in a process of its own (`npm start`'s
 * server/main.ts) on Redis, with a one-second history ttl. A second node in
 * the test's process shares its Redis: the intruder tries both.
 */

/** A session unused for twice this is forgotten; the node renews the ones whose owner is subscribed there. */
const HISTORY_TTL_SECONDS = 1;
const SECRET = 'inv-secret';
const forbidden = { code: 'FORBIDDEN', reason: 'session_owned_by_other' };

type Client = ReturnType<TestServer['wsClient']>['client'];

interface Cluster {
  prefix: string;
  /** The node under test, a child process. */
  node: NodeProcess;
  /** Another node on the same Redis and prefix. */
  other: TestServer;
  redis: Redis;
  /** A client of `url` (default: the node under test) for a user. */
  client(claims: Parameters<TestServer['token']>[0], url?: string): Promise<Client>;
  /** An investigation event, published over HTTP by a backend. */
  publish(progress: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function startCluster(): Promise<Cluster> {
  const prefix = uniquePrefix();
  const limits = { HISTORY_TTL_SECONDS };
  const node = await startTestNode({ REDIS_URL, REDIS_KEY_PREFIX: prefix, HISTORY_TTL_SECONDS: String(HISTORY_TTL_SECONDS) });
  const other = await startServer({ redisUrl: REDIS_URL, redisKeyPrefix: prefix, limits }).catch(async (err: unknown) => {
    await node[Symbol.asyncDispose]();
    throw err;
  });
  const redis = new Redis(REDIS_URL);
  const backend = other.httpClient(await other.token({ sub: 'backend', roles: ['service'] }));
  return {
    prefix,
    node,
    other,
    redis,
    async client(claims, url = node.wsUrl) {
      return other.wsClient({ token: await other.token(claims), url }).client;
    },
    async publish(progress) {
      await backend.investigation.notifyUpdate.mutate({ investigationId: SECRET, updateType: 'progress', data: { progress } });
    },
    async [Symbol.asyncDispose]() {
      await other[Symbol.asyncDispose]();
      await node[Symbol.asyncDispose]();
      await emptyPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Deletes every key of the test's prefix: what a Redis that restarted empty holds for this deployment. */
async function emptyPrefix(redis: Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

function watchSession(client: Client, sessionId: string, lastEventId?: string): Collector<ChatItem> {
  return collect<ChatItem>((h) => client.chat.onEvent.subscribe({ sessionId, lastEventId }, h));
}

const isProgress = (item: ChatItem, progress: number) =>
  item.data.type === 'investigation_update' && item.data.data.updateType === 'progress' && item.data.data.progress === progress;
const isReply = (item: ChatItem) => item.data.type === 'chat_message' && item.data.data.role === 'assistant';

/** Everything the intruder tries on the owner's session, from each node: every attempt must be refused. */
async function attemptTakeover(cluster: Cluster, sessionId: string) {
  for (const url of [cluster.node.wsUrl, cluster.other.address.wsUrl]) {
    // Granted an investigation of her own, not the owner's.
    const mallory = await cluster.client({ sub: 'mallory', investigations: ['inv-mallory'] }, url);
    // Everything the session's history keeps, the copied investigation events included.
    const replay = watchSession(mallory, sessionId, '0-0');
    expect(refusalOf(await replay.failed()), url).toEqual(forbidden);
    for (const call of [
      () => mallory.chat.send.mutate({ sessionId, content: 'this conversation is mine now' }),
      () => mallory.chat.typing.mutate({ sessionId, isTyping: true }),
      () => mallory.chat.watchInvestigation.mutate({ sessionId, investigationId: 'inv-mallory' }),
    ]) {
      expect(await rejectionOf(call), url).toEqual(forbidden);
    }
  }
}

/** The owner's subscription still gets the watched investigation and their own conversation, and they can still send. */
async function expectOwnerUnaffected(cluster: Cluster, alice: Client, chat: Collector<ChatItem>, sessionId: string, progress: number) {
  await cluster.publish(progress);
  await chat.until((items) => items.some((i) => isProgress(i, progress)), `the copy of progress ${progress}`);
  const from = chat.items.length;
  await alice.chat.send.mutate({ sessionId, content: 'still mine?' });
  const items = await chat.until((all) => all.slice(from).some(isReply), 'the reply');
  expect(items[from]!.data).toMatchObject({ type: 'chat_message', data: { userId: 'alice', content: 'still mine?' } });
  // Nothing of mallory's ever reached it.
  expect(items.filter((i) => i.data.type === 'chat_message' && i.data.data.userId === 'mallory')).toEqual([]);
  expect(items.filter((i) => i.data.type === 'typing' && i.data.data.userId === 'mallory')).toEqual([]);
}

describeWithRedis('a chat session cannot be taken over (takeover attempts)', () => {
  test('an owner subscribed and idle past the ttl: the intruder is FORBIDDEN on every node, the owner unaffected', async () => {
    await using cluster = await startCluster();
    const sessionId = 's-made-up-by-alice';
    const alice = await cluster.client({ sub: 'alice', investigations: [SECRET] });
    const chat = watchSession(alice, sessionId);
    await chat.started;
    await alice.chat.watchInvestigation.mutate({ sessionId, investigationId: SECRET });
    await cluster.publish(10);
    await chat.until((items) => items.some((i) => isProgress(i, 10)), 'the first copy');

    // A session alice claims after her last call on hers, and never uses
    // again: once it is forgotten, hers would have been too without renewals.
    const control = 's-control-of-alice';
    await alice.chat.typing.mutate({ sessionId: control, isTyping: false });
    await waitFor(
      () => cluster.redis.exists(chatSessionKeys(cluster.prefix).owner(control)),
      (n) => n === 0,
      'the unrenewed session to be forgotten',
    );
    expect(await cluster.redis.get(chatSessionKeys(cluster.prefix).owner(sessionId))).toBe('alice');

    await attemptTakeover(cluster, sessionId);
    await expectOwnerUnaffected(cluster, alice, chat, sessionId, 20);
  });

  test('a created session after Redis lost every key: the intruder is FORBIDDEN, the owner carries on and the store records it again', async () => {
    await using cluster = await startCluster();
    const alice = await cluster.client({ sub: 'alice', investigations: [SECRET] });
    const { sessionId } = await alice.chat.createSession.mutate({});
    const chat = watchSession(alice, sessionId);
    await chat.started;
    await alice.chat.watchInvestigation.mutate({ sessionId, investigationId: SECRET });
    await cluster.publish(10);
    await chat.until((items) => items.some((i) => isProgress(i, 10)), 'the first copy');

    await emptyPrefix(cluster.redis, cluster.prefix);
    expect(await cluster.redis.exists(chatSessionKeys(cluster.prefix).owner(sessionId))).toBe(0);

    await attemptTakeover(cluster, sessionId);
    // The watch was lost with the data: the owner's page asks again (the dashboard does after each reconnect).
    await alice.chat.watchInvestigation.mutate({ sessionId, investigationId: SECRET });
    expect(await cluster.redis.get(chatSessionKeys(cluster.prefix).owner(sessionId))).toBe('alice');
    await expectOwnerUnaffected(cluster, alice, chat, sessionId, 20);
  });
});
