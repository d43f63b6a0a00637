import { describe, expect, expectTypeOf, test } from 'vitest';
import { compareEventIds } from '../shared/eventId';
import {
  type AnalysisEvent,
  analysisUpdateEventSchema,
  anomalyDetectedEventSchema,
  type InvestigationEvent,
  investigationUpdateEventSchema,
  type NotificationEvent,
  notificationEventSchema,
} from '../shared/events';
import type { NotifyAnalysisUpdateInput, NotifyAnomalyInput, NotifyInvestigationUpdateInput } from '../shared/inputs';
import { type AnalysisItem, type Collector, collect, type InvestigationItem, type NotificationItem } from './support/collect';
import { startServer, type TestServer } from './support/server';

const ID_SHAPE = /^\d+-\d+$/;

/** What a subscriber must see for each publish: the event's type and its flat data. */
interface Expected {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** The event envelope the contract fixes, checked on what the typed client handed to onData. */
function expectEnvelope(item: { id: string; data: { id: string; type: string; timestamp: Date; data: unknown } }, expected: Expected) {
  const event = item.data;
  expect(Object.keys(event).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
  expect(event.id).toMatch(ID_SHAPE);
  expect(item.id).toBe(event.id);
  expect(event.id).toBe(expected.id);
  expect(event.timestamp).toBeInstanceOf(Date);
  expect(Number.isNaN(event.timestamp.getTime())).toBe(false);
  expect(event.type).toBe(expected.type);
  expect(event.data).toStrictEqual(expected.data);
}

function expectIncreasing(ids: readonly string[]) {
  for (let i = 1; i < ids.length; i++) expect(compareEventIds(ids[i - 1]!, ids[i]!), `${ids[i - 1]} < ${ids[i]}`).toBeLessThan(0);
}

const investigationUpdates = (investigationId: string): NotifyInvestigationUpdateInput[] => [
  { investigationId, updateType: 'status', data: { status: 'running', message: 'agents started' } },
  { investigationId, updateType: 'status', data: { status: 'pending' } },
  { investigationId, updateType: 'progress', data: { progress: 40, stage: 'fetching contracts' } },
  { investigationId, updateType: 'progress', data: { progress: 0 } },
  {
    investigationId,
    updateType: 'agent_finding',
    data: {
      agent: 'zumbi',
      finding: 'price 3x above the reference',
      details: { contractId: 'ct-9', ratio: 3.1, flags: ['overprice', 'single-bid'], nested: { ok: false, none: null } },
    },
  },
  { investigationId, updateType: 'agent_finding', data: { agent: 'anita', finding: 'no pattern' } },
  { investigationId, updateType: 'report_status', data: { status: 'ready', url: 'https://cidadao.ai/reports/r-1.pdf' } },
  { investigationId, updateType: 'report_status', data: { status: 'generating' } },
];

const anomalies = (investigationId: string): NotifyAnomalyInput[] => [
  { investigationId, anomaly: { severity: 'low', description: 'rounding', contractId: 'ct-1', confidence: 0.1 } },
  { investigationId, anomaly: { severity: 'critical', description: 'ghost supplier', contractId: 'ct-2', confidence: 1 } },
];

const analysisUpdates = (analysisId: string): NotifyAnalysisUpdateInput[] => [
  { analysisId, updateType: 'status', data: { status: 'running', progress: 10 } },
  { analysisId, updateType: 'status', data: { status: 'completed' } },
  { analysisId, updateType: 'partial_result', data: { result: { rows: [{ uf: 'SP', total: 12.5 }], done: false }, sequence: 0 } },
  { analysisId, updateType: 'partial_result', data: { result: [1, 'two', null] } },
  { analysisId, updateType: 'error', data: { code: 'SOURCE_DOWN', message: 'portal da transparência timed out' } },
];

async function setup(srv: TestServer) {
  const user = await srv.token({ sub: 'analyst', investigations: ['inv-1'], analyses: ['an-1'] });
  const service = await srv.token({ sub: 'backend', roles: ['service'] });
  const { client } = srv.wsClient({ token: user });
  return { client, http: srv.httpClient(service) };
}

describe('every event type reaches the typed client with its envelope', () => {
  test('investigation_update of each updateType and anomaly_detected, over HTTP and in-process', async () => {
    await using srv = await startServer();
    const { client, http } = await setup(srv);
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await sub.started;

    const expected: Expected[] = [];
    for (const input of investigationUpdates('inv-1')) {
      const { id } = await http.investigation.notifyUpdate.mutate(input);
      expected.push({ id, type: 'investigation_update', data: { investigationId: 'inv-1', updateType: input.updateType, ...input.data } });
    }
    for (const input of anomalies('inv-1')) {
      const { id } = await http.investigation.notifyAnomaly.mutate(input);
      expected.push({ id, type: 'anomaly_detected', data: { investigationId: 'inv-1', ...input.anomaly } });
    }
    for (const input of investigationUpdates('inv-1')) {
      const { id } = await srv.server.notifyInvestigationUpdate(input);
      expected.push({ id, type: 'investigation_update', data: { investigationId: 'inv-1', updateType: input.updateType, ...input.data } });
    }
    for (const input of anomalies('inv-1')) {
      const { id } = await srv.server.notifyAnomalyDetected(input);
      expected.push({ id, type: 'anomaly_detected', data: { investigationId: 'inv-1', ...input.anomaly } });
    }

    const items = await sub.take(expected.length);
    items.forEach((item, i) => {
      expectEnvelope(item, expected[i]!);
    });
    for (const item of items) {
      const schema = item.data.type === 'anomaly_detected' ? anomalyDetectedEventSchema : investigationUpdateEventSchema;
      expect(schema.safeParse(item.data).success).toBe(true);
    }
    expectIncreasing(items.map((i) => i.id));
    // The client's inferred type is the contract's, with no hand-written types.
    expectTypeOf<InvestigationItem>().toEqualTypeOf<{ id: string; data: InvestigationEvent }>();
  });

  test('analysis_update of each updateType, over HTTP and in-process', async () => {
    await using srv = await startServer();
    const { client, http } = await setup(srv);
    const sub = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, o));
    await sub.started;

    const expected: Expected[] = [];
    for (const input of analysisUpdates('an-1')) {
      const { id } = await http.analysis.notifyUpdate.mutate(input);
      expected.push({ id, type: 'analysis_update', data: { analysisId: 'an-1', updateType: input.updateType, ...input.data } });
    }
    for (const input of analysisUpdates('an-1')) {
      const { id } = await srv.server.notifyAnalysisUpdate(input);
      expected.push({ id, type: 'analysis_update', data: { analysisId: 'an-1', updateType: input.updateType, ...input.data } });
    }

    const items = await sub.take(expected.length);
    items.forEach((item, i) => {
      expectEnvelope(item, expected[i]!);
    });
    for (const item of items) expect(analysisUpdateEventSchema.safeParse(item.data).success).toBe(true);
    expectIncreasing(items.map((i) => i.id));
    expectTypeOf<AnalysisItem>().toEqualTypeOf<{ id: string; data: AnalysisEvent }>();
  });

  test('notification, over HTTP and in-process, returns the ids it delivers', async () => {
    await using srv = await startServer();
    const service = await srv.token({ sub: 'backend', roles: ['service'] });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'maria' }) });
    const sub = collect<NotificationItem>((o) => client.notification.onNotification.subscribe(undefined, o));
    await sub.started;

    const viaHttp = { title: 'Report ready', body: 'Your report on ct-9 is ready', level: 'info', link: 'https://cidadao.ai/r/1' } as const;
    const viaFn = { title: 'Alert', body: 'A critical anomaly was found', level: 'warning' } as const;
    const a = await srv.httpClient(service).notification.send.mutate({ userIds: ['maria'], ...viaHttp });
    const b = await srv.server.sendNotification({ userIds: ['maria'], ...viaFn });
    expect(a.ids).toHaveLength(1);
    expect(b.ids).toHaveLength(1);

    const items = await sub.take(2);
    expectEnvelope(items[0]!, { id: a.ids[0]!, type: 'notification', data: viaHttp });
    expectEnvelope(items[1]!, { id: b.ids[0]!, type: 'notification', data: viaFn });
    for (const item of items) expect(notificationEventSchema.safeParse(item.data).success).toBe(true);
    expectTypeOf<NotificationItem>().toEqualTypeOf<{ id: string; data: NotificationEvent }>();
  });
});

describe('order', () => {
  async function twoSubscribers(srv: TestServer) {
    const user = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    const subs = [0, 1].map(() => {
      const { client } = srv.wsClient({ token: user });
      return collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    });
    await Promise.all(subs.map((s) => s.started));
    return subs;
  }

  function progressOf(item: InvestigationItem) {
    return item.data.type === 'investigation_update' && item.data.data.updateType === 'progress' ? item.data.data.progress : null;
  }

  test('50 events fired back to back in-process reach two subscribers in publish order', async () => {
    await using srv = await startServer();
    const subs = await twoSubscribers(srv);

    const returned = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        srv.server.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: i } }),
      ),
    );
    const ids = returned.map((r) => r.id);
    expectIncreasing(ids);

    for (const sub of subs) {
      const items = await sub.take(50);
      expect(items.map(progressOf)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(items.map((i) => i.id)).toEqual(ids);
    }
  });

  test('50 concurrent HTTP publishes reach two subscribers in the same order, the order of their ids', async () => {
    await using srv = await startServer();
    const subs = await twoSubscribers(srv);
    const http = srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));

    // Concurrent requests have no order of their own: the server's ids define it.
    const returned = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        http.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: i } }),
      ),
    );
    const ids = returned.map((r) => r.id).sort(compareEventIds);
    expect(new Set(ids).size).toBe(50);

    const [first, second] = await Promise.all(subs.map((s) => s.take(50)));
    expect(first!.map((i) => i.id)).toEqual(ids);
    expect(second!.map((i) => i.id)).toEqual(ids);
    expect(second!.map(progressOf)).toEqual(first!.map(progressOf));
    expect(new Set(first!.map(progressOf)).size).toBe(50);
  });
});

describe('batching: a critical event flushes the pending batch, in order', () => {
  // Ten minutes: a normal event would not go out during the test on its own.
  const limits = { BATCH_WINDOW_MS: 600_000 };

  /**
   * Publishes normal events: the first goes at once (the topic was quiet),
   * the others are held (a round trip on the same socket comes back before
   * them); then publishes the critical one, which brings them all.
   */
  async function holdThenFlush<T extends { id: string }>(
    sub: Collector<T>,
    roundTrip: () => Promise<unknown>,
    normal: (() => Promise<{ id: string }>)[],
    critical: () => Promise<{ id: string }>,
  ) {
    await sub.started;
    const ids: string[] = [];
    for (const publish of normal) {
      ids.push((await publish()).id);
      if (ids.length === 1) expect((await sub.take(1)).map((item) => item.id)).toEqual(ids);
    }
    await roundTrip();
    expect(sub.items.map((item) => item.id)).toEqual(ids.slice(0, 1));
    ids.push((await critical()).id);
    const items = await sub.take(ids.length);
    expect(items.map((i) => i.id)).toEqual(ids);
  }

  test.each([
    ['critical', 'critical'],
    ['high', 'high'],
  ] as const)('anomaly of severity %s, published over HTTP', async (_, severity) => {
    await using srv = await startServer({ limits });
    const { client, http } = await setup(srv);
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await holdThenFlush(
      sub,
      () => client.system.health.query(),
      [
        () => http.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'status', data: { status: 'running' } }),
        () => http.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 50 } }),
        // Low and medium anomalies are not critical: they wait with the rest.
        () =>
          http.investigation.notifyAnomaly.mutate({
            investigationId: 'inv-1',
            anomaly: { severity: 'low', description: 'd', contractId: 'c', confidence: 0.2 },
          }),
        () =>
          http.investigation.notifyAnomaly.mutate({
            investigationId: 'inv-1',
            anomaly: { severity: 'medium', description: 'd', contractId: 'c', confidence: 0.5 },
          }),
      ],
      () =>
        http.investigation.notifyAnomaly.mutate({
          investigationId: 'inv-1',
          anomaly: { severity, description: 'ghost supplier', contractId: 'c', confidence: 0.9 },
        }),
    );
    expect(sub.items.map((i) => i.data.type)).toEqual([
      'investigation_update',
      'investigation_update',
      'anomaly_detected',
      'anomaly_detected',
      'anomaly_detected',
    ]);
  });

  test('analysis error update, published in-process', async () => {
    await using srv = await startServer({ limits });
    const { client } = await setup(srv);
    const sub = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, o));
    await holdThenFlush(
      sub,
      () => client.system.health.query(),
      [
        () => srv.server.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'status', data: { status: 'running', progress: 5 } }),
        () =>
          srv.server.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'partial_result', data: { result: { n: 1 }, sequence: 0 } }),
        () =>
          srv.server.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'partial_result', data: { result: { n: 2 }, sequence: 1 } }),
      ],
      () =>
        srv.server.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'error', data: { code: 'E_SOURCE', message: 'source down' } }),
    );
    expect(sub.items.map((i) => (i.data.type === 'analysis_update' ? i.data.data.updateType : i.data.type))).toEqual([
      'status',
      'partial_result',
      'partial_result',
      'error',
    ]);
  });

  test('critical notification', async () => {
    await using srv = await startServer({ limits });
    const { client } = srv.wsClient({ token: await srv.token({ sub: 'maria' }) });
    const sub = collect<NotificationItem>((o) => client.notification.onNotification.subscribe(undefined, o));
    const send = (level: 'info' | 'warning' | 'critical', title: string) => async () => {
      const { ids } = await srv.server.sendNotification({ userIds: ['maria'], title, body: 'b', level });
      return { id: ids[0]! };
    };
    await holdThenFlush(sub, () => client.system.health.query(), [send('info', 'one'), send('warning', 'two')], send('critical', 'three'));
    expect(sub.items.map((i) => (i.data.type === 'notification' ? i.data.data.title : null))).toEqual(['one', 'two', 'three']);
  });
});

describe('timestamp in update data: when the source saw the change', () => {
  async function postJson(srv: TestServer, token: string, procedure: string, body: unknown) {
    return fetch(`${srv.address.httpUrl}/api/v1/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  }

  test('an ISO-8601 string over plain JSON HTTP reaches the tRPC subscriber as a Date; the envelope keeps the publish time', async () => {
    await using srv = await startServer();
    const { client } = await setup(srv);
    const service = await srv.token({ sub: 'backend', roles: ['service'] });
    const investigation = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    const analysis = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, o));
    await Promise.all([investigation.started, analysis.started]);

    const published = [
      { investigationId: 'inv-1', updateType: 'status', data: { status: 'running', timestamp: '2026-11-28T10:00:00Z' } },
      // Python's datetime.utcnow().isoformat(): no offset, microseconds; taken as UTC.
      { investigationId: 'inv-1', updateType: 'progress', data: { progress: 5, timestamp: '2026-11-28T10:00:01.123456' } },
      { investigationId: 'inv-1', updateType: 'progress', data: { progress: 6, timestamp: '2026-11-28T07:00:02-03:00' } },
    ];
    for (const body of published) expect((await postJson(srv, service, 'investigation.notifyUpdate', body)).status).toBe(200);
    const anomaly = { severity: 'low', description: 'd', contractId: 'c', confidence: 0.1, timestamp: '2026-11-28T10:00:03Z' };
    expect((await postJson(srv, service, 'investigation.notifyAnomaly', { investigationId: 'inv-1', anomaly })).status).toBe(200);
    const analysisBody = { analysisId: 'an-1', updateType: 'error', data: { code: 'E', message: 'm', timestamp: '2026-11-28T10:00:04Z' } };
    expect((await postJson(srv, service, 'analysis.notifyUpdate', analysisBody)).status).toBe(200);
    // In-process (and typed tRPC) callers may give a Date.
    await srv.server.notifyAnalysisUpdate({
      analysisId: 'an-1',
      updateType: 'status',
      data: { status: 'running', timestamp: new Date('2026-11-28T10:00:05Z') },
    });

    const seen = [...(await investigation.take(4)), ...(await analysis.take(2))].map((item) => item.data);
    const stamps = seen.map((event) => ('timestamp' in event.data ? event.data.timestamp : undefined));
    for (const stamp of stamps) expect(stamp).toBeInstanceOf(Date);
    expect(stamps.map((s) => s?.toISOString())).toEqual([
      '2026-11-28T10:00:00.000Z',
      '2026-11-28T10:00:01.123Z',
      '2026-11-28T10:00:02.000Z',
      '2026-11-28T10:00:03.000Z',
      '2026-11-28T10:00:04.000Z',
      '2026-11-28T10:00:05.000Z',
    ]);
    // The envelope's timestamp is the publish time, not the source's.
    for (const event of seen) expect(event.timestamp.getTime()).toBeGreaterThan(Date.parse('2026-11-28T10:00:05Z'));
    expect(seen[0]).toMatchObject({
      type: 'investigation_update',
      data: { investigationId: 'inv-1', updateType: 'status', status: 'running' },
    });
    for (const event of seen) {
      const schema = { investigation_update: investigationUpdateEventSchema, anomaly_detected: anomalyDetectedEventSchema }[
        event.type as string
      ];
      expect((schema ?? analysisUpdateEventSchema).safeParse(event).success).toBe(true);
    }
    expectTypeOf<Extract<InvestigationEvent, { type: 'investigation_update' }>['data']['timestamp']>().toEqualTypeOf<Date | undefined>();
  });

  test.each([['yesterday'], ['2026-11-28'], ['2026-13-28T10:00:00Z'], [1_732_788_000_000]])(
    'a bad timestamp (%j) is BAD_REQUEST naming the field',
    async (timestamp) => {
      await using srv = await startServer();
      const service = await srv.token({ sub: 'backend', roles: ['service'] });
      const res = await postJson(srv, service, 'investigation.notifyUpdate', {
        investigationId: 'inv-1',
        updateType: 'status',
        data: { status: 'running', timestamp },
      });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
      expect(error.json.data.code).toBe('BAD_REQUEST');
      expect(error.json.message).toContain('data.timestamp');
    },
  );
});
