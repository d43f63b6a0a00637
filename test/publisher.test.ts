import { TRPCClientError } from '@trpc/client';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { createRealtimePublisher, type RealtimePublisherOptions } from '../client/index';
import { type Collector, collect, type InvestigationItem } from './support/collect';
import { expectRefused, rejectionOf } from './support/errors';
import { startFaultyRedisProxy } from './support/faultyRedisProxy';
import { describeWithRedis, REDIS_URL, uniquePrefix } from './support/redis';
import { startServer, type TestServer } from './support/server';

/**
 * The TypeScript publisher (client/publisher.ts) against a real server over
 * real HTTP: a key on every call, kept by its retries; retries only of what
 * may not have been stored (a lost answer, SERVICE_UNAVAILABLE, a proxy's
 * 502/503/504), never of a refusal. What went over the wire is read from a
 * recording `fetch` passed in the options.
 */

/** One request the publisher sent: the key it carried, and what came back. */
interface Sent {
  key: unknown;
  status: number | 'no answer';
  reason?: unknown;
}

/**
 * A `fetch` that forwards every request to the server for real and records
 * it. `interfere(n, forward)` may decide the outcome of request n (0-based)
 * instead: forward it and throw as if the connection dropped, or answer a
 * proxy's page without forwarding it.
 */
function recordingFetch(interfere?: (n: number, forward: () => Promise<Response>) => Promise<Response>) {
  const sent: Sent[] = [];
  const recording: typeof fetch = async (input, init) => {
    const n = sent.length;
    const body = JSON.parse(String(init?.body)) as { json?: { idempotencyKey?: unknown } };
    const record: Sent = { key: body.json?.idempotencyKey, status: 'no answer' };
    sent.push(record);
    const forward = () => fetch(input, init);
    const outcome = interfere ? await interfere(n, forward) : await forward();
    record.status = outcome.status;
    const json = (await outcome
      .clone()
      .json()
      .catch(() => undefined)) as { error?: { json?: { data?: { reason?: unknown } } } } | undefined;
    if (json?.error) record.reason = json.error.json?.data?.reason;
    return outcome;
  };
  return { fetch: recording, sent };
}

/** The answer was lost: the server handled the request, the publisher sees a dropped connection. */
const loseAnswer = async (forward: () => Promise<Response>): Promise<never> => {
  await (await forward()).arrayBuffer();
  throw new TypeError('fetch failed');
};

/** A publisher with a token of `sub` (a service by default), or the `token` given; short retry delays. */
async function publisherFor(
  srv: TestServer,
  options: { sub?: string; roles?: readonly string[]; token?: string } & Pick<
    RealtimePublisherOptions,
    'fetch' | 'retries' | 'retryDelayMs'
  > = {},
) {
  const { sub = 'backend-ts', roles = ['service'], token, ...rest } = options;
  return createRealtimePublisher({
    url: srv.address.httpUrl,
    token: token ?? (await srv.token({ sub, roles: [...roles] })),
    retryDelayMs: 1,
    ...rest,
  });
}

async function watchInvestigation(srv: TestServer, investigationId: string): Promise<Collector<InvestigationItem>> {
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'viewer', investigations: ['*'] }) });
  const items = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId }, o));
  await items.started;
  return items;
}

const running = (investigationId: string, idempotencyKey?: string) => ({
  investigationId,
  updateType: 'status' as const,
  data: { status: 'running' as const },
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});

/** Publishes a marker and waits for it: the ids of everything the subscriber got, the marker's last. */
async function settle(srv: TestServer, items: Collector<InvestigationItem>, investigationId: string): Promise<string[]> {
  const { id } = await srv.server.notifyInvestigationUpdate({ investigationId, updateType: 'status', data: { status: 'completed' } });
  const got = await items.until((all) => all.some((item) => item.id === id), 'the marker');
  return got.map((item) => item.id);
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the TypeScript publisher', () => {
  test('every call sends a key of its own and its retry reuses it: a lost answer publishes once, where a keyless retry publishes twice', async () => {
    await using srv = await startServer();
    const items = await watchInvestigation(srv, 'inv-1');

    // Without a key, the same input twice is two events.
    const raw = srv.httpClient(await srv.token({ sub: 'backend-raw', roles: ['service'] }));
    const twice = [
      await raw.investigation.notifyUpdate.mutate(running('inv-1')),
      await raw.investigation.notifyUpdate.mutate(running('inv-1')),
    ];
    expect(twice[0]!.id).not.toBe(twice[1]!.id);

    // The publisher: the first answer is lost after the server stored the event; its retry gets the same id.
    const wire = recordingFetch((n, forward) => (n === 0 ? loseAnswer(forward) : forward()));
    let tokensAsked = 0;
    const token = await srv.token({ sub: 'backend-ts', roles: ['service'] });
    const publisher = createRealtimePublisher({
      url: srv.address.httpUrl,
      getToken: () => {
        tokensAsked += 1;
        return token;
      },
      retryDelayMs: 1,
      fetch: wire.fetch,
    });
    const published = await publisher.notifyInvestigationUpdate(running('inv-1'));
    expect(wire.sent).toEqual([
      { key: expect.stringMatching(uuid), status: 'no answer' },
      { key: wire.sent[0]!.key, status: 200 },
    ]);
    expect(tokensAsked).toBe(2);

    // Another call, another key.
    const next = await publisher.notifyInvestigationUpdate(running('inv-1'));
    expect(wire.sent[2]!.key).toMatch(uuid);
    expect(wire.sent[2]!.key).not.toBe(wire.sent[0]!.key);

    const ids = await settle(srv, items, 'inv-1');
    expect(ids).toEqual([twice[0]!.id, twice[1]!.id, published.id, next.id, ids[4]]);
  });

  test("the caller's own key is sent as given, on every publish procedure", async () => {
    await using srv = await startServer();
    const wire = recordingFetch();
    const publisher = await publisherFor(srv, { fetch: wire.fetch });
    const anomaly = {
      investigationId: 'inv-2',
      anomaly: { severity: 'high' as const, description: 'split purchases', contractId: 'CT-9', confidence: 0.8 },
      idempotencyKey: 'order-7',
    };
    const a = await publisher.notifyAnomalyDetected(anomaly);
    expect(await publisher.notifyAnomalyDetected(anomaly)).toEqual(a);
    const analysis = await publisher.notifyAnalysisUpdate({
      analysisId: 'an-2',
      updateType: 'partial_result',
      data: { result: { rows: 120 } },
      idempotencyKey: 'order-7',
    });
    const sent = await publisher.sendNotification({ userIds: ['u-1', 'u-2'], title: 't', body: 'b', level: 'info' });
    expect(sent.ids).toHaveLength(2);
    expect(analysis.id).not.toBe(a.id);
    expect(wire.sent.map((s) => s.key)).toEqual(['order-7', 'order-7', 'order-7', expect.stringMatching(uuid)]);
  });

  test("a proxy's 502 page is retried under the same key; when retries run out the last error surfaces", async () => {
    await using srv = await startServer();
    const items = await watchInvestigation(srv, 'inv-3');
    const badGateway = async () => new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } });

    // A proxy that answers 502 twice (the API never saw those), then forwards.
    const flaky = recordingFetch((n, forward) => (n < 2 ? badGateway() : forward()));
    const published = await (await publisherFor(srv, { fetch: flaky.fetch })).notifyInvestigationUpdate(running('inv-3'));
    expect(flaky.sent.map((s) => s.status)).toEqual([502, 502, 200]);
    expect(new Set(flaky.sent.map((s) => s.key)).size).toBe(1);

    // Always 502: 1 + retries requests, then the TRPCClientError.
    const down = recordingFetch(() => badGateway());
    const failed = await (await publisherFor(srv, { fetch: down.fetch, retries: 2 }))
      .notifyInvestigationUpdate(running('inv-3'))
      .catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(TRPCClientError);
    expect(down.sent.map((s) => s.status)).toEqual([502, 502, 502]);

    // The server unreachable: retried, then surfaced.
    const unreachable = recordingFetch((_n, forward) => loseAnswer(forward));
    const lost = await (await publisherFor(srv, { fetch: unreachable.fetch, retries: 1 }))
      .notifyInvestigationUpdate(running('inv-3'))
      .catch((err: unknown) => err);
    expect(lost).toBeInstanceOf(TRPCClientError);
    expect(unreachable.sent).toHaveLength(2);

    // The 502s stored nothing; the lost answers stored one event (one key), not two.
    const ids = await settle(srv, items, 'inv-3');
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe(published.id);
  });

  test('CONFLICT (its own key reused for another payload) is not retried and surfaces', async () => {
    await using srv = await startServer();
    const wire = recordingFetch();
    const publisher = await publisherFor(srv, { fetch: wire.fetch, retries: 5 });
    await publisher.notifyInvestigationUpdate(running('inv-4', 'mine'));
    const refused = await rejectionOf(() =>
      publisher.notifyInvestigationUpdate({
        investigationId: 'inv-4',
        updateType: 'progress',
        data: { progress: 10 },
        idempotencyKey: 'mine',
      }),
    );
    expectRefused(refused, 'CONFLICT', 'idempotency_conflict');
    expect(wire.sent.map((s) => s.status)).toEqual([200, 409]);
  });

  test('refusals are not retried: FORBIDDEN (a user token), UNAUTHORIZED (a bad token), BAD_REQUEST (a bad key)', async () => {
    await using srv = await startServer();
    const cases = [
      { options: { sub: 'alice', roles: [] }, key: undefined, code: 'FORBIDDEN', reason: 'service_role_required' },
      { options: { token: 'not-a-token' }, key: undefined, code: 'UNAUTHORIZED', reason: 'token_invalid' },
      { options: {}, key: 'has space', code: 'BAD_REQUEST', reason: undefined },
    ] as const;
    for (const { options, key, code, reason } of cases) {
      const wire = recordingFetch();
      const publisher = await publisherFor(srv, { ...options, fetch: wire.fetch, retries: 5 });
      const refused = await rejectionOf(() => publisher.notifyInvestigationUpdate(running('inv-5', key)));
      expect(refused.code, code).toBe(code);
      if (reason) expect(refused.reason).toBe(reason);
      expect(wire.sent, code).toHaveLength(1);
    }
  });
});

describeWithRedis('the TypeScript publisher and a lost reply (Redis stored the event, the node never heard)', () => {
  test('the first attempt fails with engine_unavailable, its own retry returns the stored id: one event in the stream, delivered once', async () => {
    const redisAddress = new URL(REDIS_URL);
    await using proxy = await startFaultyRedisProxy({ host: redisAddress.hostname, port: Number(redisAddress.port || 6379) });
    const prefix = uniquePrefix();
    await using srv = await startServer({ redisUrl: proxy.url, redisKeyPrefix: prefix });
    const items = await watchInvestigation(srv, 'inv-lost');
    const wire = recordingFetch();
    // Retries until the node has reconnected to Redis: enough of them, and delays that grow.
    const publisher = await publisherFor(srv, { fetch: wire.fetch, retries: 10, retryDelayMs: 50 });
    const direct = new Redis(REDIS_URL);
    try {
      const stream = `${prefix}{t:investigation:inv-lost}:s`;
      proxy.loseNextReplyTo('}:idem:');
      const published = await publisher.notifyInvestigationUpdate(running('inv-lost'));
      expect(proxy.cuts).toBe(1);
      expect(wire.sent[0]).toEqual({ key: expect.stringMatching(uuid), status: 503, reason: 'engine_unavailable' });
      expect(wire.sent.at(-1)!.status).toBe(200);
      expect(new Set(wire.sent.map((s) => s.key)).size).toBe(1);

      const stored = await direct.xrange(stream, '-', '+');
      expect(stored.map(([id]) => id)).toEqual([published.id]);
      const ids = await settle(srv, items, 'inv-lost');
      expect(ids).toEqual([published.id, ids[1]]);
    } finally {
      direct.disconnect();
    }
  });
});
