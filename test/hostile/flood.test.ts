import { setTimeout as delay } from 'node:timers/promises';
import superjson, { type SuperJSONResult } from 'superjson';
import { expect, test } from 'vitest';
import { issueToken } from '../../server/auth/issueToken';
import { CloseCode } from '../../shared/closeCodes';
import type { RealtimeEvent } from '../../shared/events';
import type { Health } from '../../shared/health';
import { limitDefaults } from '../../shared/limits';
import { cpuSeconds, flood, metricValue, summary } from '../support/hostile';
import { postMutation, rssBytes, startTestNode } from '../support/nodeProcess';
import { type Frame, RawWs } from '../support/rawWs';
import { TEST_SECRET } from '../support/server';
import { waitFor } from '../support/wait';

/**
 * Issue 10, "every frame pays": one authenticated connection sending
 * `{"id":1,"method":"query","params":{"path":"no.such"}}` as fast as it could
 * made the server read 65 000 frames a second and answer each with NOT_FOUND;
 * another user's events went from ~105 ms to ~2.7 s; junk (invalid JSON,
 * binary frames, text PING before authentication) was never counted at all.
 * Here three connections flood junk at a server in its own process (the
 * default budget: RATE_LIMIT_PER_SECOND 20, RATE_LIMIT_BURST 40) while a second
 * user subscribes, receives events and asks for health.
 */

const RATE = limitDefaults.RATE_LIMIT_PER_SECOND;
const BURST = limitDefaults.RATE_LIMIT_BURST;
/** Kept over budget this long, a flooder is closed (1008): short, so the test is too. */
const CLOSE_AFTER_MS = 5_000;
/** All flooders together send at most this many frames, and for at most this long. */
const MAX_FRAMES = 200_000;
const MAX_FLOOD_MS = 30_000;
/** Events published to the victim before the flood (for comparison) and during it, one every PUBLISH_EVERY_MS. */
const CALM_EVENTS = 20;
const EVENTS = 40;
const PUBLISH_EVERY_MS = 100;
/** Frames a flooder may have had read beyond burst + rate × seconds: the one whose pause made it wait, rounding. */
const SLACK_PER_FLOODER = 2;

const INVESTIGATION = 'inv-victim';

test('three connections flooding junk (unknown procedures, invalid JSON, binary frames, text PING before authentication): each is read no faster than its budget and closed with 1008; another user gets every event, in order, and health answers', async () => {
  await using node = await startTestNode({
    RATE_LIMIT_CLOSE_AFTER_MS: String(CLOSE_AFTER_MS),
    // The unauthenticated flooder is to meet its budget, not the authentication deadline.
    AUTH_TIMEOUT_MS: '120000',
  });
  const token = (sub: string, claims: object = {}) => issueToken(TEST_SECRET, { sub, ...claims });
  const service = await token('backend', { roles: ['service'] });

  // The victim: subscribed before the flood, on a connection of its own.
  const victimToken = await token('victim', { investigations: [INVESTIGATION] });
  await using victim = await RawWs.open(`${node.wsUrl}?token=${victimToken}`);
  const arrivals = new Map<number, number>();
  victim.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    if (frame.id !== 1 || frame.result?.type !== 'data') return;
    const { data: event } = superjson.deserialize<{ data: RealtimeEvent }>(frame.result.data as SuperJSONResult);
    if (event.type === 'investigation_update' && event.data.updateType === 'progress') arrivals.set(event.data.progress, performance.now());
  });
  victim.request(1, 'subscription', 'investigation.onUpdate', { investigationId: INVESTIGATION });
  expect((await victim.response(1)).result?.type).toBe('started');
  let victimFrames = 1;

  // Publishes event `seq` over HTTP (as a backend would) and notes when.
  const publishedAt = new Map<number, number>();
  const ids: string[] = [];
  const publish = async (seq: number) => {
    publishedAt.set(seq, performance.now());
    const outcome = await postMutation(node.httpUrl, service, 'investigation.notifyUpdate', {
      investigationId: INVESTIGATION,
      updateType: 'progress',
      data: { progress: seq },
    });
    expect(outcome.status).toBe(200);
    ids.push(outcome.id!);
  };
  const latencies = (from: number, to: number) =>
    [...arrivals].filter(([seq]) => seq >= from && seq < to).map(([seq, at]) => at - publishedAt.get(seq)!);

  // A calm phase first, for comparison: the same events with no flood.
  for (let seq = 0; seq < CALM_EVENTS; seq++) {
    await publish(seq);
    await delay(PUBLISH_EVERY_MS);
  }
  await victim.waitForEvents(1, CALM_EVENTS);

  const framesBefore = await metricValue(node.httpUrl, 'realtime_ws_frames_read_total');
  const cpuBefore = cpuSeconds(node.serverPid);
  const rssBefore = rssBytes(node.serverPid);

  // The flooders: each sends its junk until closed, or the count or time bound.
  const authenticated = await token('flooder');
  const flooders = await Promise.all([
    RawWs.open(`${node.wsUrl}?token=${authenticated}`),
    RawWs.open(`${node.wsUrl}?token=${await token('flooder-2')}`),
    // Never authenticates: it announces connectionParams and sends text PINGs instead.
    RawWs.open(`${node.wsUrl}?connectionParams=1`),
  ]);
  const floodStart = performance.now();
  const until = Date.now() + MAX_FLOOD_MS;
  const perFlooder = Math.floor(MAX_FRAMES / flooders.length);
  const unknownProcedure = JSON.stringify({ id: 1, method: 'query', params: { path: 'no.such' } });
  const binary = Buffer.from(unknownProcedure);
  const floods = [
    flood(flooders[0]!, () => unknownProcedure, { maxFrames: perFlooder, until }),
    flood(flooders[1]!, (i) => (i % 2 === 0 ? '{"id":' : binary), { maxFrames: perFlooder, until }),
    flood(flooders[2]!, () => 'PING', { maxFrames: perFlooder, until }),
  ];

  // Meanwhile the victim's events, and health over both transports.
  const healthAnswers: number[] = [];
  for (let seq = CALM_EVENTS; seq < CALM_EVENTS + EVENTS; seq++) {
    await publish(seq);
    if (seq % 10 === 0) {
      const res = await fetch(`${node.httpUrl}/api/v1/ws/health`);
      healthAnswers.push(res.status);
      expect(((await res.json()) as Health).status).toBe('healthy');
      victim.request(100 + seq, 'query', 'system.health');
      victimFrames++;
    }
    await delay(PUBLISH_EVERY_MS);
  }
  const sent = await Promise.all(floods);
  const closes = await Promise.all(flooders.map((f) => f.closed));
  const floodSeconds = (performance.now() - floodStart) / 1000;

  // The victim got every event, in order, and its health queries were answered.
  const got = await victim.waitForEvents(1, CALM_EVENTS + EVENTS);
  expect(got.map((event) => event.id)).toEqual(ids);
  for (let seq = CALM_EVENTS; seq < CALM_EVENTS + EVENTS; seq += 10) {
    const answer = await victim.response(100 + seq);
    expect(answer.result?.data).toMatchObject({ json: { status: 'healthy' } });
  }
  expect(healthAnswers).toEqual(Array(healthAnswers.length).fill(200));

  // Each flooder was closed by its budget, and the server read no more than the budgets allow.
  expect(closes.map((c) => c.code)).toEqual([CloseCode.POLICY_VIOLATION, CloseCode.POLICY_VIOLATION, CloseCode.POLICY_VIOLATION]);
  expect(await metricValue(node.httpUrl, 'realtime_ws_budget_closes_total')).toBe(3);
  const framesRead = (await metricValue(node.httpUrl, 'realtime_ws_frames_read_total')) - framesBefore;
  const elapsed = (performance.now() - floodStart) / 1000;
  const bound = victimFrames + flooders.length * (BURST + RATE * elapsed + SLACK_PER_FLOODER);
  expect(framesRead).toBeLessThanOrEqual(bound);
  // The unauthenticated flooder's PINGs were read (and counted), never answered.
  expect(flooders[2]!.frames.filter((f) => f.method === 'PONG')).toEqual([]);
  // The junk flooder got at most one error for its stream of invalid frames.
  expect(flooders[1]!.frames.filter((f) => f.error).length).toBeLessThanOrEqual(1);

  const cpu = cpuSeconds(node.serverPid) - cpuBefore;
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  console.log(
    `flood: ${sent.reduce((a, b) => a + b, 0)} frames sent by 3 flooders (${sent.join(' / ')}) over ${floodSeconds.toFixed(1)} s; ` +
      `server read ${framesRead} frames in all (bound ${bound.toFixed(0)}: the victim's ${victimFrames} + 3 × (${BURST} + ${RATE}/s × ${elapsed.toFixed(1)} s + ${SLACK_PER_FLOODER})); ` +
      `flooders closed ${closes.map((c) => c.code).join(', ')}; server CPU ${cpu.toFixed(2)} s; RSS ${mb(rssBefore)} → ${mb(rssBytes(node.serverPid))} MB; ` +
      `victim event latency (publish over HTTP → arrival; the load generator shares the test process) calm ${summary(latencies(0, CALM_EVENTS))}, ` +
      `during the flood ${summary(latencies(CALM_EVENTS, CALM_EVENTS + EVENTS))}`,
  );
  await waitFor(
    async () => ((await (await fetch(`${node.httpUrl}/api/v1/ws/health`)).json()) as Health).connections,
    (n) => n === 1,
    'the flooders to be gone',
  );
});
