import { setTimeout as delay } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { compareEventIds } from '../../shared/eventId';
import type { RealtimeEvent } from '../../shared/events';
import type { Health } from '../../shared/health';
import { collect, type InvestigationItem } from '../support/collect';
import { expectRefused, refusalOf } from '../support/errors';
import { type HttpOutcome, postMutation } from '../support/nodeProcess';
import { describeWithRedis, startOwnRedis, uniquePrefix } from '../support/redis';
import { startServer, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';

const INVESTIGATION = 'inv-hung';

async function healthOf(node: TestServer): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${node.address.httpUrl}/api/v1/ws/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

function progressUpdate(seq: number) {
  return { investigationId: INVESTIGATION, updateType: 'progress' as const, data: { progress: seq % 101, stage: `seq ${seq}` } };
}

function seqOf(event: RealtimeEvent): number | null {
  if (event.type === 'investigation_update' && event.data.updateType === 'progress') return Number(event.data.stage?.replace('seq ', ''));
  return null;
}

async function subscriber(node: TestServer, user: string) {
  const token = await node.token({ sub: user, investigations: [INVESTIGATION] });
  const { client } = node.wsClient({ token });
  const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: INVESTIGATION }, o));
  await sub.started;
  return sub;
}

type Phase = 'before' | 'hung' | 'waking' | 'after';

interface Attempt {
  seq: number;
  node: string;
  /** The phase when the call was made and when it answered: only calls wholly inside the hang must be refused. */
  startedIn: Phase;
  endedIn: Phase;
  outcome: HttpOutcome;
}

describeWithRedis('a Redis that hangs (SIGSTOP): not closed, just silent', () => {
  test('health turns 503 degraded (redis_unresponsive), and publishes over HTTP and new subscriptions are refused at once with engine_unavailable while Redis hangs; once it answers again, health is ok, publishes succeed, and subscribers on both nodes got every accepted event, in order, once', async () => {
    await using own = await startOwnRedis();
    const prefix = uniquePrefix();
    await using a = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });
    await using b = await startServer({ redisUrl: own.url, redisKeyPrefix: prefix });
    const subscribers = [
      ['subscriber on A', await subscriber(a, 'watcher-a')],
      ['subscriber on B', await subscriber(b, 'watcher-b')],
    ] as const;
    const serviceToken = await a.token({ sub: 'backend', roles: ['service'] });
    const nodes = [
      ['A', a],
      ['B', b],
    ] as const;

    let phase: Phase = 'before';
    let running = true;
    const attempts: Attempt[] = [];
    const publishing = (async () => {
      for (let seq = 0; running; seq++) {
        const [name, node] = nodes[seq % nodes.length]!;
        const startedIn = phase;
        const outcome = await postMutation(node.address.httpUrl, serviceToken, 'investigation.notifyUpdate', progressUpdate(seq));
        attempts.push({ seq, node: name, startedIn, endedIn: phase, outcome });
        // Pacing only: a publish refused while Redis hangs answers at once.
        await delay(2);
      }
    })();
    const count = (pred: (x: Attempt) => boolean) => () => attempts.filter(pred).length;
    const accepted = (x: Attempt) => x.outcome.status === 200 && x.outcome.id !== undefined;
    const wholly = (p: Phase) => (x: Attempt) => x.startedIn === p && x.endedIn === p;

    try {
      await waitFor(count(accepted), (n) => n >= 20, '20 accepted publishes before Redis hangs');

      process.kill(own.pid!, 'SIGSTOP');
      try {
        for (const [, node] of nodes) {
          await waitFor(
            () => healthOf(node),
            (h) => h.status === 503,
            'health to turn degraded',
          );
        }
        phase = 'hung';
        // Publishing goes on while Redis hangs: each call answers without waiting for Redis.
        await waitFor(count(wholly('hung')), (n) => n >= 20, '20 publishes answered while Redis hangs');
        for (const [, node] of nodes) {
          const health = await healthOf(node);
          expect(health.status).toBe(503);
          expect(health.body.status).toBe('degraded');
          expect(health.body.engine).toEqual({ kind: 'redis', status: 'degraded', reason: 'redis_unresponsive' });
        }
        // A new subscription whose live feed needs Redis is refused the same clear way.
        const { client: lateClient } = b.wsClient({ token: await b.token({ sub: 'late', investigations: ['inv-hung-late'] }) });
        const late = collect<InvestigationItem>((o) =>
          lateClient.investigation.onUpdate.subscribe({ investigationId: 'inv-hung-late' }, o),
        );
        expectRefused(refusalOf(await late.failed()), 'SERVICE_UNAVAILABLE', 'engine_unavailable');
      } finally {
        phase = phase === 'hung' ? 'waking' : phase;
        process.kill(own.pid!, 'SIGCONT');
      }
      for (const [, node] of nodes) {
        await waitFor(
          () => healthOf(node),
          (h) => h.status === 200 && h.body.status === 'healthy',
          'health to be healthy again',
        );
      }
      phase = 'after';
      await waitFor(
        count((x) => x.startedIn === 'after' && accepted(x)),
        (n) => n >= 20,
        '20 accepted publishes after Redis answers again',
      );
    } finally {
      running = false;
      await publishing;
    }

    // Every publish wholly inside the hang was refused, clearly, on both nodes.
    const duringHang = attempts.filter(wholly('hung'));
    for (const x of duringHang) {
      expect(x.outcome, `${x.node} #${x.seq}`).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'engine_unavailable' });
    }
    expect(new Set(duringHang.map((x) => x.node))).toEqual(new Set(['A', 'B']));
    // Any refusal, whatever the phase (one in flight when Redis stopped), was the same clear one.
    for (const x of attempts.filter((x) => !accepted(x))) {
      expect(x.outcome, `${x.node} #${x.seq} (${x.startedIn} → ${x.endedIn})`).toMatchObject({ status: 503, reason: 'engine_unavailable' });
    }

    const acceptedIds = attempts.filter(accepted).map((x) => x.outcome.id!);
    const refusedSeqs = new Set(attempts.filter((x) => !accepted(x)).map((x) => x.seq));
    for (const [name, sub] of subscribers) {
      const items = await sub.until(
        (got) => got.some((item) => item.id === acceptedIds.at(-1)),
        `${name} to receive the last accepted event`,
      );
      const ids = items.map((item) => item.id);
      for (let i = 1; i < ids.length; i++)
        expect(compareEventIds(ids[i - 1]!, ids[i]!), `${name}: ${ids[i - 1]} then ${ids[i]}`).toBeLessThan(0);
      const received = new Set(ids);
      expect(
        acceptedIds.filter((id) => !received.has(id)),
        `${name}: accepted events that never arrived`,
      ).toEqual([]);
      // Anything else is an event whose publish was refused although Redis ran it once it woke up (in flight when it stopped).
      const acceptedSet = new Set(acceptedIds);
      const extras = items.filter((item) => !acceptedSet.has(item.id));
      for (const extra of extras) {
        expect(extra.data.type, `${name}: ${extra.id}`).toBe('investigation_update');
        expect(refusedSeqs.has(seqOf(extra.data) ?? -1), `${name}: ${extra.id} was never refused`).toBe(true);
      }
      expect(sub.error).toBeUndefined();
    }
    console.log(
      `redis hung: ${attempts.length} publishes over HTTP, ${acceptedIds.length} accepted, ` +
        `${duringHang.length} refused while Redis hung, ${attempts.filter((x) => !accepted(x)).length - duringHang.length} refused around it`,
    );
  });
});
