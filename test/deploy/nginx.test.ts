import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect, test } from 'vitest';
import WebSocket from 'ws';
import type { InvestigationEvent } from '../../client/index';
import { issueToken } from '../../server/index';
import { isReconnecting, openClient, type TestClient, TopicCollector } from '../client/helpers';
import { describeWithNginx, startNginx } from '../support/nginx';
import { type NodeProcess, postMutation, startNodeProcess } from '../support/nodeProcess';
import { RawWs } from '../support/rawWs';
import { describeWithRedis, REDIS_URL, uniquePrefix } from '../support/redis';
import { TEST_SECRET } from '../support/server';
import { freePort } from '../support/tools';
import { waitFor } from '../support/wait';

/**
 * deploy/nginx.conf in front of two nodes (separate processes, one Redis), the
 * way deploy/compose.yaml runs them: clients connect through nginx, a node is
 * terminated mid-stream, and nobody notices more than a reconnect.
 */

const token = (claims: Parameters<typeof issueToken>[1]) => issueToken(TEST_SECRET, claims, { expiresInSeconds: 3600 });

/** A node as compose runs it: the deployment's secret and Redis, nginx (the loopback here) trusted for X-Forwarded-For. */
function startNode(prefix: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  return startNodeProcess({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_SECRET,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    TRUST_PROXY: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DRAIN_SECONDS: '2',
    ...env,
  });
}

const hostPort = (node: NodeProcess) => new URL(node.httpUrl).host;

interface Health {
  status: string;
  connections: number;
}

async function health(url: string): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${url}/api/v1/ws/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

async function publish(url: string, service: string, investigationId: string, i: number): Promise<string> {
  const outcome = await postMutation(url, service, 'investigation.notifyUpdate', {
    investigationId,
    updateType: 'progress',
    data: { progress: i % 101, stage: `step ${i}` },
  });
  if (outcome.status !== 200 || !outcome.id) throw new Error(`publish ${i} via ${url}: ${JSON.stringify(outcome)}`);
  return outcome.id;
}

describeWithRedis('deploy/nginx.conf', () => {
  describeWithNginx('in front of two nodes', () => {
    test('a node terminated mid-stream: its clients reconnect through nginx to the other and get every event once, in order', async () => {
      const prefix = uniquePrefix();
      await using a = await startNode(prefix);
      await using b = await startNode(prefix);
      await using nginx = await startNginx([hostPort(a), hostPort(b)]);

      // Health, liveness and readiness reach a node through nginx; /metrics stays private.
      const viaNginx = await health(nginx.httpUrl);
      expect(viaNginx.status).toBe(200);
      expect(viaNginx.body.status).toBe('healthy');
      expect((await fetch(`${nginx.httpUrl}/api/v1/ws/live`)).status).toBe(200);
      expect((await fetch(`${nginx.httpUrl}/api/v1/ws/ready`)).status).toBe(200);
      expect((await fetch(`${nginx.httpUrl}/metrics`)).status).toBe(404);

      const investigationId = 'inv-deploy';
      const service = await token({ sub: 'backend', roles: ['service'] });
      const clients: TestClient[] = [];
      const subs: TopicCollector<InvestigationEvent>[] = [];
      await using _clients = {
        async [Symbol.asyncDispose]() {
          for (const c of clients) await c[Symbol.asyncDispose]();
        },
      };
      for (let i = 0; i < 6; i++) {
        const userToken = await token({ sub: `viewer-${i}`, investigations: [investigationId] });
        const c = openClient({ url: `${nginx.wsUrl}?connection_type=investigation`, getToken: () => userToken });
        clients.push(c);
        const sub = new TopicCollector<InvestigationEvent>(c.client.investigation(investigationId));
        subs.push(sub);
        await sub.started();
      }

      // Round robin put clients on both nodes; the one holding more is terminated.
      const counts = await waitFor(
        async () => [(await health(a.httpUrl)).body.connections, (await health(b.httpUrl)).body.connections] as const,
        ([onA, onB]) => onA + onB === clients.length,
        'every client on a node',
      );
      const [victim, survivor] = counts[0] >= counts[1] ? [a, b] : [b, a];
      const onVictim = Math.max(...counts);
      expect(onVictim).toBeGreaterThan(0);

      const published: string[] = [];
      let next = 0;
      // Before: published through nginx's /api/v1/trpc/.
      for (; next < 20; next++) published.push(await publish(nginx.httpUrl, service, investigationId, next));

      // During: a backend keeps publishing (to the surviving node: a publish the
      // terminating node had half-answered would make the expected list uncertain).
      let publishing = true;
      const during = (async () => {
        while (publishing) published.push(await publish(survivor.httpUrl, service, investigationId, next++));
      })();
      await waitFor(
        () => published.length,
        (n) => n >= 40,
        'the backend publishing',
      );
      process.kill(victim.serverPid, 'SIGTERM');
      const { code: exitCode } = await victim.proc.exited;
      // Every client is back, on the survivor, while events keep coming.
      await waitFor(
        async () => (await health(survivor.httpUrl)).body.connections,
        (n) => n === clients.length,
        'every client reconnected to the surviving node',
      );
      publishing = false;
      await during;

      // After: through nginx again, the terminated node's address now refusing connections.
      for (const end = next + 20; next < end; next++) published.push(await publish(nginx.httpUrl, service, investigationId, next));

      for (const sub of subs) {
        await sub.take(published.length);
        const ids = sub.events.map((event) => event.id);
        expect(ids).toEqual(published);
        expect(new Set(ids).size).toBe(ids.length);
        expect(sub.errors).toEqual([]);
      }
      // Exactly the clients of the terminated node reconnected, closed by its drain with 1012; it then exited 0.
      const reconnected = clients.filter((c) => c.states.history.some(isReconnecting));
      expect(reconnected.length).toBe(onVictim);
      for (const c of reconnected) expect(c.states.history.find(isReconnecting)!.code).toBe(1012);
      expect(exitCode).toBe(0);
    }, 60_000);

    test('a node that refuses connections, or answers 503 as a draining node does, costs no request: nginx retries it on the other', async () => {
      await using node = await startNode(uniquePrefix());
      const userToken = await token({ sub: 'retried', investigations: ['inv-r'] });
      // Stands in for a draining node: answers every request, upgrades included, with 503.
      let refused = 0;
      const draining = createServer((_req, res) => {
        refused++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('draining');
      });
      draining.on('upgrade', (_req, socket: Socket) => {
        refused++;
        socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
      draining.listen(0, '127.0.0.1');
      await once(draining, 'listening');
      await using _draining = { [Symbol.asyncDispose]: () => new Promise<void>((resolve) => draining.close(() => resolve())) };
      const drainingAddress = `127.0.0.1:${(draining.address() as AddressInfo).port}`;
      // Nothing listens there: connections are refused.
      const goneAddress = `127.0.0.1:${await freePort()}`;

      for (const other of [drainingAddress, goneAddress]) {
        // The refusing node first, so round robin sends it the first request.
        await using nginx = await startNginx([other, hostPort(node)]);
        for (let i = 0; i < 4; i++) {
          expect((await fetch(`${nginx.httpUrl}/api/v1/ws/ready`)).status).toBe(200);
          const ws = await RawWs.open(`${nginx.wsUrl}?token=${userToken}`);
          await ws.close();
        }
      }
      expect(refused).toBeGreaterThan(0);
    }, 60_000);

    test('X-Forwarded-For reaches the node: the per-address upgrade budget counts the client nginx forwards, not nginx', async () => {
      const prefix = uniquePrefix();
      // One node behind both upstream lines, so a single per-address counter sees every attempt.
      await using node = await startNode(prefix, { CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: '3' });
      await using nginx = await startNginx([hostPort(node), hostPort(node)]);
      const userToken = await token({ sub: 'forwarded', investigations: ['inv-x'] });

      /** Opens a WebSocket through nginx as the client `address` (what a proxy in front of nginx would write), then closes it; the HTTP status of a refusal. */
      const attempt = (address: string) =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`${nginx.wsUrl}?token=${userToken}`, { headers: { 'x-forwarded-for': address } });
          ws.once('open', () => {
            ws.close();
            resolve(101);
          });
          ws.once('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.once('error', reject);
        });

      for (let i = 0; i < 3; i++) expect(await attempt('203.0.113.7')).toBe(101);
      // The fourth attempt of that address in a minute is refused; another address, through the same nginx, is not.
      expect(await attempt('203.0.113.7')).toBe(429);
      expect(await attempt('198.51.100.9')).toBe(101);
    }, 60_000);

    test('an SSE stream through nginx is not buffered: each event arrives while the stream stays open', async () => {
      const prefix = uniquePrefix();
      await using a = await startNode(prefix);
      await using b = await startNode(prefix);
      await using nginx = await startNginx([hostPort(a), hostPort(b)]);
      const service = await token({ sub: 'backend', roles: ['service'] });
      const viewer = await token({ sub: 'sse-viewer', investigations: ['inv-sse'] });
      const input = encodeURIComponent(JSON.stringify({ json: { investigationId: 'inv-sse' } }));
      // The token in connectionParams, in the query, as httpSubscriptionLink sends it from a browser.
      const params = encodeURIComponent(JSON.stringify({ token: viewer }));
      const abort = new AbortController();
      const res = await fetch(`${nginx.httpUrl}/api/v1/sse/investigation.onUpdate?input=${input}&connectionParams=${params}`, {
        headers: { accept: 'text/event-stream' },
        signal: abort.signal,
      });
      try {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/event-stream');
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        const readUntil = async (done: () => boolean) => {
          while (!done()) {
            const chunk = await reader.read();
            if (chunk.done) throw new Error(`the stream ended: ${text}`);
            text += decoder.decode(chunk.value);
          }
        };
        await readUntil(() => text.includes('event: connected'));
        // One event at a time: each must arrive before the next is published, the stream still open.
        for (let i = 0; i < 3; i++) {
          const id = await publish(nginx.httpUrl, service, 'inv-sse', i);
          await readUntil(() => text.includes(`id: ${id}`));
        }
        expect(text).not.toContain('event: return');
      } finally {
        abort.abort();
      }
      // Never the query (connectionParams carries the token) in nginx's log, which
      // nginx writes once it has seen the aborted stream end.
      const log = await waitFor(
        () => nginx.accessLog(),
        (text) => text.includes('GET /api/v1/sse/investigation.onUpdate'),
        "the stream's line in nginx's access log",
      );
      expect(log).not.toContain(viewer);
    }, 60_000);
  });
});
