import { expect, test } from 'vitest';
import { issueToken } from '../../server/auth/issueToken';
import { CloseCode } from '../../shared/closeCodes';
import type { Health } from '../../shared/health';
import { limitDefaults } from '../../shared/limits';
import { cpuSeconds, flood, metricValue } from '../support/hostile';
import { rssBytes, startTestNode } from '../support/nodeProcess';
import { errorOf, RawWs } from '../support/rawWs';
import { TEST_SECRET } from '../support/server';
import { waitFor } from '../support/wait';

/**
 * Issue 10, "a client that never reads": it sent 1 MB frames whose `path` was
 * a 1 MB string, and each NOT_FOUND reply echoed the path twice; the server
 * queued the replies for a socket nobody read, RSS went 167 → 644 MB, and no
 * 4013 came (the bound was only checked for events). Now every frame pays a
 * token before it is parsed, every reply is small (the path cut to 200
 * characters) and counted against SLOW_CONSUMER_BYTES like events are.
 */

const MB = 1024 * 1024;
const RATE = limitDefaults.RATE_LIMIT_PER_SECOND;
const BURST = limitDefaults.RATE_LIMIT_BURST;
const CLOSE_AFTER_MS = 5_000;
/** The attack's own bounds: 1 000 frames of 1 MB, 30 s; it stops once the server closed the connection. */
const MAX_FRAMES = 1_000;
const MAX_ATTACK_MS = 30_000;
/**
 * What the server may hold above its baseline at peak: the frames ws parsed
 * ahead of the pause (a socket read and one 1 MB frame, each parsed into a
 * 1 MB string), V8's garbage of parsing 1 MB frames at 20 a second between
 * collections, and the small replies. The unbounded version held ~480 MB.
 */
const PEAK_GROWTH_BOUND = 96 * MB;

test('a client that never reads and sends 1 MB frames naming a 1 MB path: read at its budget, answered with small errors, closed with 1008; the server’s memory stays bounded', async () => {
  await using node = await startTestNode({
    RATE_LIMIT_CLOSE_AFTER_MS: String(CLOSE_AFTER_MS),
  });
  const token = await issueToken(TEST_SECRET, { sub: 'amplifier' });
  await using attacker = await RawWs.open(`${node.wsUrl}?token=${token}`);
  // Warm up: one ordinary error reply, read, so the baseline has the code paths loaded.
  attacker.request(0, 'query', 'no.such');
  await attacker.errorResponse(0);
  const baseline = rssBytes(node.serverPid);
  const cpuBefore = cpuSeconds(node.serverPid);
  const framesBefore = await metricValue(node.httpUrl, 'realtime_ws_frames_read_total');

  attacker.socket.pause();
  const path = 'p'.repeat(MB - 100);
  const frame = (i: number) => JSON.stringify({ id: i + 1, method: 'query', params: { path } });
  const started = performance.now();
  let peak = baseline;
  const sampling = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(node.serverPid));
    } catch {
      // The process is gone: the test says so below.
    }
  }, 50);
  // The client does not read, so it cannot see the close: the server's metrics say when to stop.
  let budgetCloses = 0;
  const watching = setInterval(() => {
    metricValue(node.httpUrl, 'realtime_ws_budget_closes_total').then(
      (n) => {
        budgetCloses = n;
      },
      () => undefined,
    );
  }, 100);
  const sent = await flood(attacker, frame, {
    maxFrames: MAX_FRAMES,
    until: Date.now() + MAX_ATTACK_MS,
    maxQueuedBytes: 8 * MB,
    stop: () => budgetCloses > 0,
  });
  clearInterval(watching);
  budgetCloses = await metricValue(node.httpUrl, 'realtime_ws_budget_closes_total');
  const elapsed = (performance.now() - started) / 1000;
  const framesRead = (await metricValue(node.httpUrl, 'realtime_ws_frames_read_total')) - framesBefore;
  attacker.socket.resume();
  const closed = await attacker.closed;
  clearInterval(sampling);
  await waitFor(
    async () => ((await (await fetch(`${node.httpUrl}/api/v1/ws/health`)).json()) as Health).connections,
    (n) => n === 0,
    'the connection to be gone',
  );
  const after = rssBytes(node.serverPid);

  expect(budgetCloses).toBe(1);
  expect(await metricValue(node.httpUrl, 'realtime_slow_consumers_total')).toBe(0);
  // Read no faster than the budget (+1: the frame whose pause made it wait).
  expect(framesRead).toBeLessThanOrEqual(BURST + RATE * elapsed + 1);
  // The client sees the 1008 when it reads again, unless the server had to cut the socket first (it was not reading the close handshake).
  expect([CloseCode.POLICY_VIOLATION, 1006]).toContain(closed.code);
  // Whatever replies reached it are small: the path cut to 200 characters, never echoed whole.
  const replies = attacker.frames.filter((f) => typeof f.id === 'number' && f.id > 0);
  for (const reply of replies) {
    const error = errorOf(reply)!;
    expect(error.data?.code).toBe('NOT_FOUND');
    expect(error.data?.path?.length).toBeLessThanOrEqual(200);
    expect(JSON.stringify(reply).length).toBeLessThan(1_024);
  }
  expect(peak - baseline).toBeLessThan(PEAK_GROWTH_BOUND);

  const mb = (bytes: number) => (bytes / MB).toFixed(0);
  console.log(
    `amplification: ${sent} frames of 1 MB sent (${sent} MB), the server read ${framesRead} in ${elapsed.toFixed(1)} s ` +
      `(bound ${(BURST + RATE * elapsed + 1).toFixed(0)}); closed ${closed.code} (budget closes ${budgetCloses}); ` +
      `${replies.length} replies read by the client, the largest ${Math.max(0, ...replies.map((r) => JSON.stringify(r).length))} characters; ` +
      `server RSS baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, after ${mb(after)} MB; server CPU ${(cpuSeconds(node.serverPid) - cpuBefore).toFixed(2)} s`,
  );
});

test('a client that never reads, with budget to spare: the replies it leaves unread count against SLOW_CONSUMER_BYTES and end it with 4013; memory stays bounded', async () => {
  const slowConsumerBytes = 64 * 1024;
  await using node = await startTestNode({
    // A budget it never exhausts: only the outbound bound can stop it.
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000',
    SLOW_CONSUMER_BYTES: String(slowConsumerBytes),
  });
  const token = await issueToken(TEST_SECRET, { sub: 'reply-hoarder' });
  await using attacker = await RawWs.open(`${node.wsUrl}?token=${token}`);
  attacker.request(0, 'query', 'no.such');
  await attacker.errorResponse(0);
  const baseline = rssBytes(node.serverPid);

  attacker.socket.pause();
  // Each call is refused with a small NOT_FOUND (~0.4 KB): 100 000 of them are ~40 MB of replies,
  // far more than the kernel's socket buffers and the bound hold together.
  const path = `no.such.${'x'.repeat(200)}`;
  const frame = (i: number) => JSON.stringify({ id: i + 1, method: 'query', params: { path } });
  let slowConsumers = 0;
  let peak = baseline;
  const watching = setInterval(() => {
    metricValue(node.httpUrl, 'realtime_slow_consumers_total').then(
      (n) => {
        slowConsumers = n;
      },
      () => undefined,
    );
    try {
      peak = Math.max(peak, rssBytes(node.serverPid));
    } catch {
      // The process is gone: the assertions below say so.
    }
  }, 50);
  const sent = await flood(attacker, frame, { maxFrames: 100_000, until: Date.now() + MAX_ATTACK_MS, stop: () => slowConsumers > 0 });
  clearInterval(watching);
  slowConsumers = await metricValue(node.httpUrl, 'realtime_slow_consumers_total');
  attacker.socket.resume();
  const closed = await attacker.closed;

  expect(slowConsumers).toBe(1);
  expect(await metricValue(node.httpUrl, 'realtime_ws_budget_closes_total')).toBe(0);
  // 4013 when the client reads its close frame, 1006 if the server had to cut a socket that never read it.
  expect([CloseCode.SLOW_CONSUMER, 1006]).toContain(closed.code);
  expect(peak - baseline).toBeLessThan(PEAK_GROWTH_BOUND);
  console.log(
    `reply hoarding: ${sent} calls sent without reading; closed ${closed.code} (slow consumers ${slowConsumers}); ` +
      `server RSS baseline ${(baseline / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB`,
  );
});
