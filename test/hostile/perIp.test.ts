import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { ClientOptions } from 'ws';
import { issueToken } from '../../server/auth/issueToken';
import { type NodeProcess, postMutation, startTestNode } from '../support/nodeProcess';
import { RawWs } from '../support/rawWs';
import { TEST_SECRET } from '../support/server';
import { WAIT_MS, waitFor } from '../support/wait';

/**
 * Issue 10, "No per-IP bounds": one address opened 3 000 unauthenticated
 * sockets (each held until AUTH_TIMEOUT_MS), made 3 980 upgrades a second,
 * held 500 upgrade requests open for 80 s by never finishing their headers,
 * and any web page could open a socket. Each test runs `npm start`'s
 * server/main.ts in a process of its own, configured by environment
 * variables, and attacks it from 127.0.0.1 while a well-behaved client comes
 * from another loopback address (127.0.0.2) or is already connected.
 */

const INVESTIGATION = 'inv-per-ip';

/** Every socket a test opened, closed at its end. */
function socketsOf() {
  const open: RawWs[] = [];
  return {
    add(raw: RawWs) {
      open.push(raw);
      return raw;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(open.map((raw) => raw.close()));
    },
  };
}

type Knock = { status: 101; raw: RawWs } | { status: number; raw?: undefined };

/** Opens a WebSocket; resolves with it (101) or with the HTTP status the upgrade was refused with. */
async function knock(url: string, options: ClientOptions = {}): Promise<Knock> {
  try {
    return { status: 101, raw: await RawWs.open(url, options) };
  } catch (err) {
    const status = /Unexpected server response: (\d+)/.exec(String(err))?.[1];
    if (status === undefined) throw err;
    return { status: Number(status) };
  }
}

/** A socket that stays pending: it announces connectionParams and never sends them. */
const pendingUrl = (node: NodeProcess) => `${node.wsUrl}?connectionParams=1`;

/** Authenticates a `?connectionParams=1` socket and subscribes it to the test's investigation; resolves once the subscription started. */
async function subscribe(raw: RawWs, sub: string) {
  raw.sendConnectionParams({ token: await issueToken(TEST_SECRET, { sub, investigations: [INVESTIGATION] }) });
  raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: INVESTIGATION });
  expect((await raw.response(1)).result?.type).toBe('started');
}

/** Rejects, naming `what`, when `promise` has not settled within the suites' common bound. */
async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function publish(node: NodeProcess, progress: number) {
  const service = await issueToken(TEST_SECRET, { sub: 'backend', roles: ['service'] });
  const outcome = await postMutation(node.httpUrl, service, 'investigation.notifyUpdate', {
    investigationId: INVESTIGATION,
    updateType: 'progress',
    data: { progress },
  });
  expect(outcome.status).toBe(200);
}

describe('unauthenticated sockets per address (MAX_PENDING_PER_IP)', () => {
  test('the 101st pending socket from one address gets 429, while a client from another address connects and subscribes', async () => {
    // The pending sockets must outlive the test, not time out under it.
    await using node = await startTestNode({ MAX_PENDING_PER_IP: '100', AUTH_TIMEOUT_MS: '300000' });
    await using sockets = socketsOf();
    const pending: RawWs[] = [];
    for (let i = 0; i < 100; i++) {
      const answer = await knock(pendingUrl(node), { localAddress: '127.0.0.1' });
      expect(answer.status).toBe(101);
      pending.push(sockets.add(answer.raw!));
    }
    expect((await knock(pendingUrl(node), { localAddress: '127.0.0.1' })).status).toBe(429);

    const neighbour = await knock(pendingUrl(node), { localAddress: '127.0.0.2' });
    expect(neighbour.status).toBe(101);
    await subscribe(sockets.add(neighbour.raw!), 'neighbour');
    await publish(node, 10);
    expect((await neighbour.raw!.waitForEvents(1, 1)).map((e) => e.data)).toEqual([
      { investigationId: INVESTIGATION, updateType: 'progress', progress: 10 },
    ]);

    // A pending socket that authenticates stays open and gives its place back.
    await subscribe(pending[0]!, 'attacker-turned-user');
    const afterAuth = await knock(pendingUrl(node), { localAddress: '127.0.0.1' });
    expect(afterAuth.status).toBe(101);
    sockets.add(afterAuth.raw!);
    expect((await knock(pendingUrl(node), { localAddress: '127.0.0.1' })).status).toBe(429);

    // So does one that closes, once the server has seen it go.
    await pending[1]!.close();
    const afterClose = await waitFor(
      () => knock(pendingUrl(node), { localAddress: '127.0.0.1' }),
      (answer) => answer.status === 101,
      'a place to free up once a pending socket closed',
    );
    sockets.add(afterClose.raw!);
    expect(pending[0]!.isOpen && neighbour.raw!.isOpen).toBe(true);
  });
});

describe('upgrade attempts per address (CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE)', () => {
  test('the attempt past the minute’s budget gets 429, however short-lived the sockets; another address has its own budget', async () => {
    const budget = 20;
    await using node = await startTestNode({ CONNECTION_ATTEMPTS_PER_IP_PER_MINUTE: String(budget) });
    await using sockets = socketsOf();
    // Open and closed at once: nothing stays pending, only the attempts add up.
    for (let i = 0; i < budget; i++) {
      const answer = await knock(pendingUrl(node), { localAddress: '127.0.0.1' });
      expect(answer.status).toBe(101);
      await answer.raw!.close();
    }
    // The next is refused. The window slides: were the test to straddle a minute
    // boundary, the previous minute's attempts would count a little less (by the
    // share of that minute already past), letting at most a few more through.
    let refusedAt = 0;
    for (let i = 1; i <= budget && refusedAt === 0; i++) {
      const answer = await knock(pendingUrl(node), { localAddress: '127.0.0.1' });
      if (answer.status === 429) refusedAt = i;
      else await answer.raw!.close();
    }
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt).toBeLessThanOrEqual(5);
    // Refused attempts count too: knocking on changes nothing.
    expect((await knock(pendingUrl(node), { localAddress: '127.0.0.1' })).status).toBe(429);

    const neighbour = await knock(pendingUrl(node), { localAddress: '127.0.0.2' });
    expect(neighbour.status).toBe(101);
    await subscribe(sockets.add(neighbour.raw!), 'neighbour');
  });
});

describe('slow request heads (HEADERS_TIMEOUT_MS)', () => {
  /** A plain TCP socket to the node; the test never closes it before `closed` resolves, so only the server can have. */
  async function rawSocket(node: NodeProcess) {
    const socket = connect(Number(new URL(node.httpUrl).port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return { socket, closed, received: () => received };
  }

  test('an upgrade request whose head never ends, and a socket that sends nothing, are closed by the server; open WebSockets are not', async () => {
    await using node = await startTestNode({ HEADERS_TIMEOUT_MS: '1000' });
    await using sockets = socketsOf();
    const user = await knock(pendingUrl(node), { localAddress: '127.0.0.2' });
    expect(user.status).toBe(101);
    await subscribe(sockets.add(user.raw!), 'user');

    // Slowloris: a header line now and then, the blank line that ends the head never.
    const loris = await rawSocket(node);
    loris.socket.write('GET /api/v1/ws?connectionParams=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
    const drip = setInterval(() => loris.socket.write('X-Slow: 1\r\n'), 200);
    const silent = await rawSocket(node);
    try {
      await bounded(Promise.all([loris.closed, silent.closed]), 'the server to close the slow sockets');
    } finally {
      clearInterval(drip);
      loris.socket.destroy();
      silent.socket.destroy();
    }
    expect(loris.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(silent.received()).toMatch(/^HTTP\/1\.1 408 /);

    // The WebSocket opened before them is older than the bound, and still delivers.
    expect(user.raw!.isOpen).toBe(true);
    await publish(node, 20);
    expect((await user.raw!.waitForEvents(1, 1)).map((e) => e.data)).toEqual([
      { investigationId: INVESTIGATION, updateType: 'progress', progress: 20 },
    ]);
  });
});

describe('Origin (ALLOWED_ORIGINS)', () => {
  test('an Origin not allowed gets 403; an allowed one and a client without Origin connect', async () => {
    await using node = await startTestNode({ ALLOWED_ORIGINS: 'https://app.example.org,https://admin.example.org' });
    await using sockets = socketsOf();
    expect((await knock(pendingUrl(node), { origin: 'https://evil.example' })).status).toBe(403);
    expect((await knock(pendingUrl(node), { origin: 'http://app.example.org' })).status).toBe(403);

    const browser = await knock(pendingUrl(node), { origin: 'https://app.example.org' });
    expect(browser.status).toBe(101);
    await subscribe(sockets.add(browser.raw!), 'browser-user');
    // ws's client sends no Origin unless asked: a backend.
    const backend = await knock(pendingUrl(node));
    expect(backend.status).toBe(101);
    await subscribe(sockets.add(backend.raw!), 'backend-user');
  });
});

describe('connections on the node (MAX_CONNECTIONS)', () => {
  test('past MAX_CONNECTIONS, from any address, upgrades get 503 until a connection closes', async () => {
    await using node = await startTestNode({ MAX_CONNECTIONS: '5' });
    await using sockets = socketsOf();
    const open: RawWs[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await knock(pendingUrl(node), { localAddress: `127.0.0.${i + 1}` });
      expect(answer.status).toBe(101);
      open.push(sockets.add(answer.raw!));
    }
    await subscribe(open[0]!, 'first');
    expect((await knock(pendingUrl(node), { localAddress: '127.0.0.9' })).status).toBe(503);
    expect((await knock(pendingUrl(node), { localAddress: '127.0.0.1' })).status).toBe(503);
    // Health says so, for the load balancer.
    const full = await fetch(`${node.httpUrl}/api/v1/ws/health`);
    expect(full.status).toBe(503);
    expect(await full.json()).toMatchObject({ status: 'degraded', reason: 'server_full', connections: 5 });

    await open[0]!.close();
    const next = await waitFor(
      () => knock(pendingUrl(node), { localAddress: '127.0.0.9' }),
      (answer) => answer.status === 101,
      'a place on the node once a connection closed',
    );
    await subscribe(sockets.add(next.raw!), 'next');
  });
});

describe('clients behind a proxy (TRUST_PROXY)', () => {
  test('X-Forwarded-For names the client when a trusted proxy sends it, and is ignored from anyone else', async () => {
    await using node = await startTestNode({ TRUST_PROXY: '127.0.0.1', MAX_PENDING_PER_IP: '2', AUTH_TIMEOUT_MS: '300000' });
    await using sockets = socketsOf();
    const via = (from: string, client: string) => ({ localAddress: from, headers: { 'x-forwarded-for': client } });
    const statuses = async (from: string, client: string, n: number) => {
      const answers: number[] = [];
      for (let i = 0; i < n; i++) {
        const answer = await knock(pendingUrl(node), via(from, client));
        if (answer.raw) sockets.add(answer.raw);
        answers.push(answer.status);
      }
      return answers;
    };
    // Two clients behind the proxy, each with its own bound.
    expect(await statuses('127.0.0.1', '203.0.113.1', 3)).toEqual([101, 101, 429]);
    expect(await statuses('127.0.0.1', '203.0.113.2', 2)).toEqual([101, 101]);
    // Not a trusted proxy: counted as itself, whatever the header says.
    expect(await statuses('127.0.0.2', '203.0.113.3', 1)).toEqual([101]);
    expect(await statuses('127.0.0.2', '203.0.113.4', 2)).toEqual([101, 429]);
  });
});
