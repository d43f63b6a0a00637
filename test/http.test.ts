import { describe, expect, test } from 'vitest';
import { healthSchema } from '../shared/health';
import { collect, type InvestigationItem } from './support/collect';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

type Client = ReturnType<TestServer['wsClient']>['client'];

function watchInvestigation(client: Client, investigationId: string) {
  return collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId }, h));
}

async function getHealth(srv: TestServer) {
  const res = await fetch(`${srv.address.httpUrl}/api/v1/ws/health`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

/** The value of one sample line of the Prometheus text, e.g. `websocket_connections_total{type="general"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function getMetrics(srv: TestServer) {
  const res = await fetch(`${srv.address.httpUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

describe('health', () => {
  test('GET /api/v1/ws/health and system.health report the open connections and subscriptions', async () => {
    await using srv = await startServer();
    const counts = async () => {
      const h = await getHealth(srv);
      return { connections: h.connections, subscriptions: h.subscriptions };
    };
    await waitFor(counts, (c) => c.connections === 0 && c.subscriptions === 0, 'no connection and no subscription');

    const alice = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['*'] }) });
    const bob = srv.wsClient({ token: await srv.token({ sub: 'bob', investigations: ['*'] }) });
    const subs = [
      watchInvestigation(alice.client, 'inv-1'),
      watchInvestigation(alice.client, 'inv-2'),
      watchInvestigation(bob.client, 'inv-1'),
    ];
    await Promise.all(subs.map((s) => s.started));
    await waitFor(counts, (c) => c.connections === 2 && c.subscriptions === 3, '2 connections and 3 subscriptions');

    const health = await getHealth(srv);
    expect(health).toEqual({
      status: 'healthy',
      connections: 2,
      subscriptions: 3,
      uptime: expect.any(Number),
      engine: { kind: 'memory', status: 'ok' },
    });
    expect(healthSchema.safeParse(health).success).toBe(true);

    // The query is public: no token needed.
    const viaTrpc = await srv.httpClient().system.health.query();
    expect(viaTrpc).toEqual({ ...health, uptime: expect.any(Number) });

    subs[1]!.unsubscribe();
    await waitFor(counts, (c) => c.connections === 2 && c.subscriptions === 2, 'the unsubscribed one to be gone');
    await bob.ws.close();
    await waitFor(counts, (c) => c.connections === 1 && c.subscriptions === 1, "bob's connection and subscription to be gone");
    expect(await srv.httpClient().system.health.query()).toMatchObject({ connections: 1, subscriptions: 1 });
  });
});

test('GET /metrics is Prometheus text with connections, subscriptions, published and delivered events', async () => {
  await using srv = await startServer();
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-1'] }) });
  const updates = watchInvestigation(client, 'inv-1');
  await updates.started;
  await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 10 } });
  await srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 20 } });
  await updates.take(2);

  const read = async () => {
    const text = await getMetrics(srv);
    return {
      connections: sample(text, 'websocket_connections_total{type="general"}'),
      subscriptions: sample(text, 'realtime_subscriptions'),
      published: sample(text, 'realtime_events_published_total{type="investigation_update"}'),
      delivered: sample(text, 'websocket_messages_sent_total{type="investigation_update"}'),
    };
  };
  await waitFor(
    read,
    (m) => m.connections === 1 && m.subscriptions === 1 && m.published === 2 && m.delivered === 2,
    'the metrics of 1 connection, 1 subscription, 2 published and 2 delivered events',
  );

  const text = await getMetrics(srv);
  for (const name of [
    'websocket_connections_total',
    'realtime_subscriptions',
    'realtime_events_published_total',
    'websocket_messages_sent_total',
  ]) {
    expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
  }
});

describe('publishing over plain HTTP, as a backend in another language would', () => {
  async function setup(limits: { MAX_MESSAGE_BYTES?: number } = {}) {
    const srv = await startServer({ limits });
    const serviceToken = await srv.token({ sub: 'backend', roles: ['service'] });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-1'] }) });
    const updates = watchInvestigation(client, 'inv-1');
    await updates.started;
    const post = (body: string, token: string | null = serviceToken, procedure = 'investigation.notifyUpdate') =>
      fetch(`${srv.address.httpUrl}/api/v1/trpc/${procedure}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
    /** Publishes a valid event and returns the first one the subscriber got: proof that nothing refused before it was published. */
    const firstDelivered = async () => {
      const res = await post(JSON.stringify({ investigationId: 'inv-1', updateType: 'status', data: { status: 'completed' } }));
      expect(res.status).toBe(200);
      const [first] = await updates.take(1);
      return first!.data;
    };
    return { srv, post, updates, firstDelivered, [Symbol.asyncDispose]: () => srv[Symbol.asyncDispose]() };
  }

  test('a plain JSON body publishes; the response carries the id the subscriber receives', async () => {
    await using t = await setup();
    const res = await t.post('{"investigationId":"inv-1","updateType":"progress","data":{"progress":40}}');

    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { json: { id: string } } } };
    const id = body.result.data.json.id;
    expect(id).toMatch(/^\d+-\d+$/);

    const [got] = await t.updates.take(1);
    expect(got).toMatchObject({
      id,
      data: { id, type: 'investigation_update', data: { investigationId: 'inv-1', updateType: 'progress', progress: 40 } },
    });
    expect(got!.data.timestamp).toBeInstanceOf(Date);
  });

  test('a superjson-wrapped body ({ "json": ... }) works too', async () => {
    await using t = await setup();
    const res = await t.post(
      JSON.stringify({
        json: {
          investigationId: 'inv-1',
          anomaly: { severity: 'critical', description: 'duplicate invoice', contractId: 'CT-7', confidence: 0.99 },
        },
      }),
      undefined,
      'investigation.notifyAnomaly',
    );

    expect(res.status).toBe(200);
    const { result } = (await res.json()) as { result: { data: { json: { id: string } } } };
    const [got] = await t.updates.take(1);
    expect(got).toMatchObject({
      id: result.data.json.id,
      data: { type: 'anomaly_detected', data: { investigationId: 'inv-1', severity: 'critical', contractId: 'CT-7', confidence: 0.99 } },
    });
  });

  test('a body with a wrong field is 400 with a message naming the field, and nothing is published', async () => {
    await using t = await setup();
    const cases = [
      {
        named: '"progres"',
        procedure: 'investigation.notifyUpdate',
        body: '{"investigationId":"inv-1","updateType":"progress","data":{"progres":40}}',
      },
      {
        named: 'data.progress',
        procedure: 'investigation.notifyUpdate',
        body: '{"investigationId":"inv-1","updateType":"progress","data":{"progress":"forty"}}',
      },
      {
        named: 'anomaly.severity',
        procedure: 'investigation.notifyAnomaly',
        body: '{"investigationId":"inv-1","anomaly":{"severity":"extreme","description":"d","contractId":"c","confidence":0.5}}',
      },
    ];
    for (const { named, procedure, body } of cases) {
      const res = await t.post(body, undefined, procedure);
      expect(res.status, body).toBe(400);
      const { error } = (await res.json()) as { error: { json: { message: string; data: { code: string; httpStatus: number } } } };
      expect(error.json.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
      expect(error.json.message).toContain(named);
    }
    expect(await t.firstDelivered()).toMatchObject({ data: { updateType: 'status', status: 'completed' } });
  });

  test('a body over MAX_MESSAGE_BYTES is refused with 413 and nothing is published', async () => {
    await using t = await setup({ MAX_MESSAGE_BYTES: 2048 });
    const message = 'x'.repeat(3000); // within the field's own bound (4000), over the body limit
    const res = await t.post(JSON.stringify({ investigationId: 'inv-1', updateType: 'status', data: { status: 'failed', message } }));

    expect(res.status).toBe(413);
    expect(await t.firstDelivered()).toMatchObject({ data: { updateType: 'status', status: 'completed' } });
  });

  test('without a token 401, without the service role 403; nothing is published', async () => {
    await using t = await setup();
    const body = '{"investigationId":"inv-1","updateType":"progress","data":{"progress":99}}';

    const anonymous = await t.post(body, null);
    expect(anonymous.status).toBe(401);
    const asUser = await t.post(body, await t.srv.token({ sub: 'alice', investigations: ['inv-1'] }));
    expect(asUser.status).toBe(403);
    const { error } = (await asUser.json()) as { error: { json: { data: { reason: string } } } };
    expect(error.json.data.reason).toBe('service_role_required');
    const forged = await t.post(body, 'not-a-jwt');
    expect(forged.status).toBe(401);

    expect(await t.firstDelivered()).toMatchObject({ data: { updateType: 'status', status: 'completed' } });
  });

  test('unknown paths are 404', async () => {
    await using srv = await startServer();
    const nowhere = await fetch(`${srv.address.httpUrl}/api/v2/nothing-here`);
    expect(nowhere.status).toBe(404);
    await nowhere.body?.cancel();

    const noProcedure = await fetch(`${srv.address.httpUrl}/api/v1/trpc/investigation.notifyUpdat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(noProcedure.status).toBe(404);
    const { error } = (await noProcedure.json()) as { error: { json: { data: { code: string } } } };
    expect(error.json.data.code).toBe('NOT_FOUND');
  });
});
