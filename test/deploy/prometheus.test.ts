import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { issueToken, type TokenClaims } from '../../server/index';
import { errorMetricReasons } from '../../shared/errors';
import { eventTypes } from '../../shared/events';
import { connectionTypes } from '../../shared/paths';
import { type NodeProcess, postMutation, startNodeProcess } from '../support/nodeProcess';
import { ALERTS_FILE, describeWithPrometheus, promtool, startPrometheus } from '../support/prometheus';
import { RawWs } from '../support/rawWs';
import { describeWithRedis, REDIS_URL, uniquePrefix } from '../support/redis';
import { TEST_SECRET } from '../support/server';

/**
 * deploy/prometheus (alerts) and deploy/grafana (the dashboard) against real
 * nodes: two nodes on Redis get traffic that moves every label the panels
 * use, a Prometheus of the test's own scrapes them, and every panel query and
 * alert expression is evaluated by it.
 */

const DEPLOY = new URL('../../deploy/', import.meta.url);
const DASHBOARD_FILE = fileURLToPath(new URL('grafana/realtime.json', DEPLOY));
const PROMETHEUS_CONFIG = fileURLToPath(new URL('prometheus/prometheus.yml', DEPLOY));

const token = (claims: TokenClaims) => issueToken(TEST_SECRET, claims, { expiresInSeconds: 3600 });
const hostPort = (node: NodeProcess) => new URL(node.httpUrl).host;

/** Small bounds, so that every refusal is cheap to provoke. */
const limits = {
  MAX_CONNECTIONS_PER_USER: '2',
  MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
  MAX_MESSAGE_BYTES: '65536',
  RATE_LIMIT_PER_SECOND: '10',
  RATE_LIMIT_BURST: '10',
  HISTORY_SIZE: '5',
  MAX_CHAT_SESSIONS_PER_USER: '2',
  SLOW_CONSUMER_BYTES: '131072',
  ALLOWED_ORIGINS: 'http://allowed.example',
};

/** /metrics asks for it, as in production (deploy/prometheus/prometheus.yml's `authorization`). */
const METRICS_TOKEN = 'metrics-token-of-the-deploy-tests';

function startNode(prefix: string): Promise<NodeProcess> {
  return startNodeProcess({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_SECRET,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'error',
    METRICS_TOKEN,
    ...limits,
  });
}

/** A chat session of the token's user, made over HTTP. */
async function createSession(node: NodeProcess, bearer: string): Promise<string> {
  const res = await fetch(`${node.httpUrl}/api/v1/trpc/chat.createSession`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const body = (await res.json()) as { result?: { data: { json: { sessionId: string } } } };
  if (!body.result) throw new Error(`chat.createSession: ${res.status} ${JSON.stringify(body)}`);
  return body.result.data.json.sessionId;
}

/** Every PromQL expression of the dashboard's panels (rows' nested panels included), with its panel's title. */
function dashboardQueries(dashboard: unknown): { panel: string; expr: string }[] {
  const found: { panel: string; expr: string }[] = [];
  const visit = (panel: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }) => {
    for (const target of panel.targets ?? []) if (target.expr) found.push({ panel: panel.title ?? '?', expr: target.expr });
    for (const child of panel.panels ?? []) visit(child as typeof panel);
  };
  for (const panel of (dashboard as { panels: unknown[] }).panels) visit(panel as Parameters<typeof visit>[0]);
  return found;
}

/** A Grafana query as Prometheus gets it: intervals of one minute, every node selected. */
function asPromQL(expr: string): string {
  const text = expr.replaceAll(/\$__(rate_interval|interval|range)\b/g, '1m').replaceAll(/\$\{?instance(:\w+)?\}?/g, '.*');
  if (text.includes('$')) throw new Error(`a template variable the test does not know is left in: ${text}`);
  return text;
}

/**
 * Traffic on two nodes that moves every label of the panels: each connection
 * type, each event type delivered (subscribers on B, publishes on A, so B's
 * pub/sub lag has observations), and as many error reasons as the bounds make cheap.
 * Returns the sockets it keeps open (connection gauges), to be closed at the end.
 */
async function generateTraffic(a: NodeProcess, b: NodeProcess): Promise<RawWs[]> {
  const open: RawWs[] = [];
  const keep = async (url: string) => {
    const ws = await RawWs.open(url);
    open.push(ws);
    return ws;
  };
  const service = await token({ sub: 'backend', roles: ['service'] });
  // A user per connection: MAX_CONNECTIONS_PER_USER is 2.
  let viewers = 0;
  const viewer = () => token({ sub: `viewer-${viewers++}`, investigations: ['inv-m', 'inv-old'], analyses: ['an-m'] });
  const publishOk = async (node: NodeProcess, procedure: string, input: unknown, bearer = service) => {
    const outcome = await postMutation(node.httpUrl, bearer, procedure, input);
    if (outcome.status !== 200) throw new Error(`${procedure}: ${JSON.stringify(outcome)}`);
    return outcome;
  };

  // Subscribers on B, one connection per type (the 4th type, general, below).
  const investigation = await keep(`${b.wsUrl}?connection_type=investigation&token=${await viewer()}`);
  investigation.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-m' });
  await investigation.response(1);
  const analysis = await keep(`${b.wsUrl}?connection_type=analysis&token=${await viewer()}`);
  analysis.request(1, 'subscription', 'analysis.onUpdate', { analysisId: 'an-m' });
  await analysis.response(1);
  const chatter = await token({ sub: 'chatter' });
  const sessionId = await createSession(a, chatter);
  const chat = await keep(`${b.wsUrl}?connection_type=chat&token=${chatter}`);
  chat.request(1, 'subscription', 'chat.onEvent', { sessionId });
  await chat.response(1);
  const notified = await keep(`${a.wsUrl}?token=${await token({ sub: 'notified' })}`);
  notified.request(1, 'subscription', 'notification.onNotification', {});
  await notified.response(1);
  // The plain JSON dialect on a per-resource path counts as its kind.
  await keep(`${b.wsUrl}/investigations/inv-m?token=${await viewer()}`);

  // Every event type, published on A over HTTP.
  await publishOk(a, 'investigation.notifyUpdate', {
    investigationId: 'inv-m',
    updateType: 'progress',
    data: { progress: 10, stage: 'start' },
  });
  await publishOk(a, 'investigation.notifyAnomaly', {
    investigationId: 'inv-m',
    anomaly: { severity: 'high', description: 'split purchases', contractId: 'CT-9', confidence: 0.8 },
  });
  await publishOk(a, 'analysis.notifyUpdate', { analysisId: 'an-m', updateType: 'partial_result', data: { result: { rows: 1 } } });
  await publishOk(a, 'notification.send', { userIds: ['notified'], title: 'Report ready', body: 'inv-m', level: 'info' });
  await publishOk(a, 'chat.typing', { sessionId, isTyping: true }, chatter);
  await publishOk(a, 'chat.send', { sessionId, content: 'How is inv-m going?' }, chatter);
  await investigation.waitForEvents(1, 2);
  await analysis.waitForEvents(1, 1);
  await notified.waitForEvents(1, 1);
  await chat.until(() => {
    const types = new Set(chat.events(1).map((e) => e.type));
    return ['typing', 'chat_message', 'chat_token'].every((t) => types.has(t as never)) ? true : undefined;
  }, 'typing, chat_message and chat_token on the chat subscription');
  // resync_required: a resume from an id the history (HISTORY_SIZE 5) no longer keeps.
  const old: string[] = [];
  for (let i = 0; i < 8; i++) {
    old.push(
      (await publishOk(a, 'investigation.notifyUpdate', { investigationId: 'inv-old', updateType: 'progress', data: { progress: i } })).id!,
    );
  }
  const resumer = await keep(`${b.wsUrl}?connection_type=investigation&token=${await viewer()}`);
  resumer.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-old', lastEventId: old[0] });
  await resumer.until(() => (resumer.events(1).some((e) => e.type === 'resync_required') ? true : undefined), 'resync_required');

  // Errors, on a general connection (it stays open: junk costs budget, not the connection).
  const general = await keep(`${a.wsUrl}?token=${await viewer()}`);
  general.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-secret' }); // forbidden
  general.request(2, 'query', 'nope.nothing'); // not_found
  general.request(3, 'subscription', 'investigation.onUpdate', {}); // bad_request
  for (const id of [1, 2, 3]) await general.errorResponse(id);
  // parse_error: counted always, answered only on a rested connection (so not awaited).
  general.send('{"id":9,"method":"subscription",');
  // too_many_subscriptions: a third on one connection.
  const busy = await keep(`${a.wsUrl}?token=${await token({ sub: 'busy', investigations: ['*'] })}`);
  for (const id of [1, 2, 3]) busy.request(id, 'subscription', 'investigation.onUpdate', { investigationId: `inv-b${id}` });
  await busy.errorResponse(3);
  // too_many_connections: the third connection of one user closes with 4008.
  const crowd = await token({ sub: 'crowd', investigations: ['inv-m'] });
  for (let i = 0; i < 2; i++) {
    const ws = await keep(`${a.wsUrl}?token=${crowd}`);
    ws.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-m' });
    await ws.response(1);
  }
  expect((await (await RawWs.open(`${a.wsUrl}?token=${crowd}`)).closed).code).toBe(4008);
  // auth_failed, over WebSocket (4001) and HTTP (401).
  expect((await (await RawWs.open(`${a.wsUrl}?token=not-a-token`)).closed).code).toBe(4001);
  expect((await postMutation(a.httpUrl, 'not-a-token', 'chat.createSession', {})).status).toBe(401);
  // message_too_big: a frame over MAX_MESSAGE_BYTES closes with 1009.
  const big = await RawWs.open(`${a.wsUrl}?token=${await viewer()}`);
  big.send('x'.repeat(70_000));
  expect((await big.closed).code).toBe(1009);
  // rate_limited: a user's HTTP calls past RATE_LIMIT_BURST.
  const hasty = await token({ sub: 'hasty' });
  const statuses = await Promise.all(Array.from({ length: 30 }, () => postMutation(a.httpUrl, hasty, 'chat.createSession', {})));
  expect(statuses.some((s) => s.status === 429)).toBe(true);
  // limit_reached: a third chat session with MAX_CHAT_SESSIONS_PER_USER 2.
  const hoarder = await token({ sub: 'hoarder' });
  const made = [];
  for (let i = 0; i < 3; i++) made.push(await postMutation(a.httpUrl, hoarder, 'chat.createSession', {}));
  expect(made.map((m) => m.status)).toEqual([200, 200, 429]);
  // conflict: an idempotencyKey reused for another payload.
  const keyed = (progress: number) => ({ investigationId: 'inv-m', updateType: 'progress', data: { progress }, idempotencyKey: 'retry-1' });
  expect((await postMutation(a.httpUrl, service, 'investigation.notifyUpdate', keyed(10))).status).toBe(200);
  expect((await postMutation(a.httpUrl, service, 'investigation.notifyUpdate', keyed(11))).status).toBe(409);
  // An upgrade refused before a connection exists: a browser Origin not in ALLOWED_ORIGINS.
  await expect(RawWs.open(`${a.wsUrl}?token=${await viewer()}`, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
  // slow_consumer: a subscriber that stops reading while large events keep coming (SLOW_CONSUMER_BYTES 128 KiB).
  const stuck = await RawWs.open(`${a.wsUrl}?token=${await token({ sub: 'stuck', investigations: ['inv-slow'] })}`);
  stuck.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-slow' });
  await stuck.response(1);
  stuck.socket.pause();
  const blob = 'x'.repeat(32 * 1024);
  for (let i = 0; i < 1000; i++) {
    await publishOk(a, 'investigation.notifyUpdate', {
      investigationId: 'inv-slow',
      updateType: 'agent_finding',
      data: { agent: 'load', finding: `chunk ${i}`, details: { blob } },
    });
    if (
      i % 20 === 19 &&
      /^realtime_slow_consumers_total [1-9]/m.test(
        await (await fetch(`${a.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text(),
      )
    )
      break;
  }
  stuck.ws.terminate();
  return open;
}

describeWithRedis('deploy/prometheus and deploy/grafana', () => {
  describeWithPrometheus('with Prometheus', () => {
    test('promtool accepts alerts.yml and prometheus.yml', async () => {
      const rules = await promtool(['check', 'rules', ALERTS_FILE]);
      expect(rules.output).toMatch(/SUCCESS/);
      expect(rules.code).toBe(0);
      const config = await promtool(['check', 'config', PROMETHEUS_CONFIG]);
      expect(config.code, config.output).toBe(0);
    });

    test('every panel query and alert expression evaluates against real nodes, and every panel has data', async () => {
      const prefix = uniquePrefix();
      const starting = [startNode(prefix), startNode(prefix)];
      await using a = await starting[0]!;
      await using b = await starting[1]!;
      // Without the token /metrics is closed; Prometheus scrapes with it.
      expect((await fetch(`${a.httpUrl}/metrics`)).status).toBe(401);
      await using prometheus = await startPrometheus([hostPort(a), hostPort(b)], { bearer: METRICS_TOKEN });

      const sockets = await generateTraffic(a, b);
      await using _sockets = {
        async [Symbol.asyncDispose]() {
          for (const ws of sockets) await ws.close();
        },
      };
      await prometheus.scrapedAfter(Date.now());

      const problems: string[] = [];
      /** The sum of an instant query's samples; records a problem when it fails or is empty. */
      const evaluate = async (what: string, expr: string, mustHaveData: boolean): Promise<number> => {
        const answer = await prometheus.query(expr);
        if (answer.status !== 'success') {
          problems.push(`${what}: ${answer.errorType} ${answer.error} in ${expr}`);
          return Number.NaN;
        }
        if (mustHaveData && answer.data.result.length === 0) problems.push(`${what}: no data for ${expr}`);
        return answer.data.result.reduce((sum, sample) => sum + Number(sample.value[1]), 0);
      };

      // (b) The dashboard: every panel query parses, evaluates and has data.
      const dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as unknown;
      const queries = dashboardQueries(dashboard);
      expect(queries.length).toBeGreaterThan(20);
      for (const { panel, expr } of queries) await evaluate(`panel "${panel}"`, asPromQL(expr), true);

      // (b) The alerts, as Prometheus itself read alerts.yml: all of them, each expression evaluating.
      const alertCount = (await readFile(ALERTS_FILE, 'utf8')).match(/^\s*- alert:/gm)?.length ?? 0;
      const rules = (await prometheus.rules()).flatMap((group) => group.rules);
      expect(rules.map((rule) => rule.name)).toHaveLength(alertCount);
      for (const rule of rules) {
        if (rule.health === 'err') problems.push(`alert ${rule.name}: ${rule.lastError}`);
        await evaluate(`alert ${rule.name}`, rule.query, false);
      }

      // (c) The series the traffic moved.
      const moved = async (expr: string) => {
        const value = await evaluate(expr, expr, true);
        if (!(value > 0)) problems.push(`${expr} did not move (${value})`);
      };
      const provoked = errorMetricReasons.filter((reason) => !['unavailable', 'internal'].includes(reason));
      for (const reason of provoked) await moved(`sum(websocket_errors_total{reason="${reason}"})`);
      for (const type of eventTypes) await moved(`sum(websocket_messages_sent_total{type="${type}"})`);
      for (const type of eventTypes.filter((t) => t !== 'resync_required'))
        await moved(`sum(realtime_events_published_total{type="${type}"})`);
      for (const type of connectionTypes) {
        await moved(`sum(max_over_time(websocket_connections_total{type="${type}"}[5m]))`);
        await moved(`sum(realtime_connections_opened_total{type="${type}"})`);
      }
      // The code the server closed with, also where the client never acknowledged it (a frame too big, a reader that stopped).
      for (const code of ['4001', '4008', '1009', '4013']) await moved(`sum(realtime_connections_closed_total{code="${code}"})`);
      await moved('sum(realtime_upgrades_refused_total{reason="origin_not_allowed"})');
      await moved('count(realtime_engine_up{engine="redis"} == 1) == 2');
      await moved('sum(realtime_engine_pubsub_lag_seconds_count)');
      await moved('sum(websocket_message_latency_seconds_count)');
      await moved('sum(realtime_batch_size_events_count)');
      await moved('sum(realtime_slow_consumers_total)');
      await moved('sum(realtime_requests_rate_limited_total)');
      await moved('sum(realtime_ws_frames_read_total)');
      await moved('sum(max_over_time(realtime_subscriptions[5m]))');

      expect(problems).toEqual([]);
    }, 60_000);
  });
});
