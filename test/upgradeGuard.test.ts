import { once } from 'node:events';
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../server/config';
import { createUpgradeGuard } from '../server/transport/upgradeGuard';
import { waitFor } from './support/wait';

/**
 * The guard in front of a real HTTP server, as wsTransport uses it: real
 * upgrade requests from real sockets on 127.0.0.x, so the address the guard
 * reads is the kernel's. An admitted socket is "pending" until it sends its
 * first bytes (its "token"), as a WebSocket is until its connectionParams are
 * accepted; the server tells the client the address it was counted under.
 */

const MINUTE = 60_000;

type GuardOptions = Parameters<typeof createUpgradeGuard>[0];

interface Knock {
  status: number;
  /** The address the guard counted the client under (admitted sockets). */
  address?: string;
  /** The guard's reason (refused upgrades). */
  reason?: string;
  socket?: Socket;
}

async function startGuarded(options: Partial<GuardOptions> = {}) {
  // Minute 10, second 0: tests move the clock by whole or partial minutes from here.
  const clock = { now: 10 * MINUTE };
  let open = 0;
  const guard = createUpgradeGuard({
    maxPendingPerIp: 0,
    attemptsPerIpPerMinute: 0,
    maxConnections: 0,
    trustProxy: [],
    allowedOrigins: null,
    openConnections: () => open,
    now: () => clock.now,
    ...options,
  });
  const server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    const admission = guard.admit(req);
    if (!admission.ok) {
      const { status, text, reason } = admission;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: ${reason.length}\r\n\r\n${reason}`);
      return;
    }
    const { address } = admission;
    let pending = true;
    open++;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Counted-As: ${address}\r\n\r\n`);
    socket.on('data', () => {
      if (!pending) return;
      pending = false;
      guard.authenticated(address);
      socket.write('authenticated');
    });
    // The server's sockets are half-open (allowHalfOpen); ws ends its side when the peer does, and so does this.
    socket.once('end', () => socket.end());
    socket.once('close', () => {
      open--;
      guard.closed(address, pending);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const clientSockets = new Set<Socket>();

  /** One upgrade request; resolves with the answer (and the open socket when admitted). */
  function knock(opts: { from?: string; headers?: Record<string, string> } = {}): Promise<Knock> {
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: '/api/v1/ws',
        localAddress: opts.from ?? '127.0.0.1',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: 'websocket', ...opts.headers },
      });
      req.once('upgrade', (res, socket) => {
        clientSockets.add(socket);
        socket.on('error', () => undefined);
        resolve({ status: 101, address: res.headers['x-counted-as'] as string, socket });
      });
      req.once('response', (res) => {
        let reason = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (reason += chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, reason }));
      });
      req.once('error', reject);
      req.end();
    });
  }

  /** Sends the socket's "token" and waits until the server took it. */
  async function authenticate(knocked: Knock) {
    const socket = knocked.socket!;
    socket.write('token');
    await once(socket, 'data');
  }

  /** Closes client sockets and waits until the server saw every close. */
  async function hangUp(sockets: (Socket | undefined)[]) {
    for (const socket of sockets) {
      socket?.destroy();
      if (socket) clientSockets.delete(socket);
    }
    await waitFor(
      () => open,
      (n) => n === clientSockets.size,
      'the server to see the sockets close',
    );
  }

  return {
    guard,
    clock,
    knock,
    authenticate,
    hangUp,
    openSockets: () => open,
    async [Symbol.asyncDispose]() {
      await hangUp([...clientSockets]);
      guard.close();
      server.close();
      await once(server, 'close');
    },
  };
}

/** `n` upgrade requests one after another (each waits for its answer, as a client's retries would). */
async function knockTimes(srv: Awaited<ReturnType<typeof startGuarded>>, n: number, opts: Parameters<typeof srv.knock>[0] = {}) {
  const answers: Knock[] = [];
  for (let i = 0; i < n; i++) answers.push(await srv.knock(opts));
  return answers;
}

const statuses = (answers: Knock[]) => answers.map((a) => a.status);

describe('unauthenticated sockets per client address', () => {
  test('past maxPendingPerIp an address gets 429 too_many_pending; other addresses are not affected; authenticating or closing frees a place', async () => {
    await using srv = await startGuarded({ maxPendingPerIp: 3 });
    const first = await knockTimes(srv, 3, { from: '127.0.0.1' });
    expect(statuses(first)).toEqual([101, 101, 101]);
    expect(first.map((a) => a.address)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    expect(await srv.knock({ from: '127.0.0.1' })).toMatchObject({ status: 429, reason: 'too_many_pending' });

    // Another client address has its own budget.
    const other = await knockTimes(srv, 3, { from: '127.0.0.2' });
    expect(statuses(other)).toEqual([101, 101, 101]);
    expect(await srv.knock({ from: '127.0.0.2' })).toMatchObject({ status: 429, reason: 'too_many_pending' });
    expect(srv.guard.stats()).toMatchObject({ pending: 6, pendingAddresses: 2 });

    // An authenticated socket stays open but no longer counts.
    await srv.authenticate(first[0]!);
    const afterAuth = await srv.knock({ from: '127.0.0.1' });
    expect(afterAuth.status).toBe(101);
    expect(await srv.knock({ from: '127.0.0.1' })).toMatchObject({ status: 429, reason: 'too_many_pending' });

    // A pending socket that closes frees its place; an authenticated one closing changes nothing.
    await srv.hangUp([first[1]!.socket, first[0]!.socket]);
    expect(srv.guard.stats()).toMatchObject({ pending: 5, pendingAddresses: 2 });
    expect((await srv.knock({ from: '127.0.0.1' })).status).toBe(101);
    expect(await srv.knock({ from: '127.0.0.1' })).toMatchObject({ status: 429, reason: 'too_many_pending' });
  });
});

describe('upgrade attempts per client address per minute', () => {
  test('the attempt past the budget gets 429 too_many_attempts; refused attempts count too; two minutes later the budget is whole', async () => {
    await using srv = await startGuarded({ attemptsPerIpPerMinute: 5, allowedOrigins: ['https://app.example.org'] });
    // Two attempts refused for their Origin still spend the budget.
    const foreign = await knockTimes(srv, 2, { headers: { origin: 'https://evil.example' } });
    expect(statuses(foreign)).toEqual([403, 403]);
    const answers = await knockTimes(srv, 4);
    expect(statuses(answers)).toEqual([101, 101, 101, 429]);
    expect(answers[3]!.reason).toBe('too_many_attempts');
    // Closing sockets gives no attempts back; another address has its own budget.
    await srv.hangUp(answers.map((a) => a.socket));
    expect(await srv.knock()).toMatchObject({ status: 429, reason: 'too_many_attempts' });
    expect(statuses(await knockTimes(srv, 5, { from: '127.0.0.2' }))).toEqual([101, 101, 101, 101, 101]);

    // Knocking on while refused keeps the budget spent: still refused half a minute on.
    srv.clock.now += MINUTE / 2;
    expect(await srv.knock()).toMatchObject({ status: 429, reason: 'too_many_attempts' });
    srv.clock.now += 2 * MINUTE;
    expect(statuses(await knockTimes(srv, 6))).toEqual([101, 101, 101, 101, 101, 429]);
  });

  test('the minute slides: a budget spent at the end of one minute is still spent at the start of the next', async () => {
    await using srv = await startGuarded({ attemptsPerIpPerMinute: 10 });
    srv.clock.now += MINUTE - 1_000; // 59 s into the minute
    expect(statuses(await knockTimes(srv, 10))).toEqual(Array(10).fill(101));
    srv.clock.now += 2_000; // 1 s into the next one: most of the 10 still lie within the last 60 s
    expect(await srv.knock()).toMatchObject({ status: 429, reason: 'too_many_attempts' });
    srv.clock.now += 45_000; // 46 s in: what is left of the previous minute counts for about 2
    expect((await srv.knock()).status).toBe(101);
  });
});

describe('Origin', () => {
  test('an Origin not in allowedOrigins gets 403; an allowed one and a request without Origin pass; entries are compared as browsers send them', async () => {
    await using srv = await startGuarded({ allowedOrigins: ['https://App.Example.org:443/', 'http://localhost:5173'] });
    expect(await srv.knock({ headers: { origin: 'https://evil.example' } })).toMatchObject({ status: 403, reason: 'origin_not_allowed' });
    // Same host, other scheme or port: another origin.
    expect((await srv.knock({ headers: { origin: 'http://app.example.org' } })).status).toBe(403);
    expect((await srv.knock({ headers: { origin: 'http://localhost:5174' } })).status).toBe(403);
    expect((await srv.knock({ headers: { origin: 'null' } })).status).toBe(403);
    expect((await srv.knock({ headers: { origin: 'https://app.example.org' } })).status).toBe(101);
    expect((await srv.knock({ headers: { origin: 'http://localhost:5173' } })).status).toBe(101);
    // A backend or a CLI sends no Origin: nothing to protect a browser from.
    expect((await srv.knock()).status).toBe(101);
  });

  test('an empty list lets no browser in, only clients without Origin', async () => {
    await using srv = await startGuarded({ allowedOrigins: [] });
    expect((await srv.knock({ headers: { origin: 'https://app.example.org' } })).status).toBe(403);
    expect((await srv.knock()).status).toBe(101);
  });
});

test('past maxConnections open connections on the node, upgrades get 503 server_full until one closes', async () => {
  await using srv = await startGuarded({ maxConnections: 3 });
  const answers = await knockTimes(srv, 3, { from: '127.0.0.1' });
  expect(statuses(answers)).toEqual([101, 101, 101]);
  // Authenticated or not, from any address: the node is full.
  await srv.authenticate(answers[0]!);
  expect(await srv.knock({ from: '127.0.0.2' })).toMatchObject({ status: 503, reason: 'server_full' });
  await srv.hangUp([answers[0]!.socket]);
  expect((await srv.knock({ from: '127.0.0.2' })).status).toBe(101);
});

test('0 turns every bound off and nothing is tracked', async () => {
  await using srv = await startGuarded({ maxPendingPerIp: 0, attemptsPerIpPerMinute: 0, maxConnections: 0 });
  const answers = await knockTimes(srv, 150);
  expect(answers.every((a) => a.status === 101)).toBe(true);
  expect(srv.guard.stats()).toEqual({ pending: 0, pendingAddresses: 0, attemptAddresses: 0 });
});

describe('client address behind proxies (trustProxy)', () => {
  test('X-Forwarded-For is believed only from a trusted proxy, read from the right up to the first hop that is not a proxy', async () => {
    await using srv = await startGuarded({ maxPendingPerIp: 1, trustProxy: ['127.0.0.1', '10.0.0.0/8'] });
    const counted = async (from: string, xff?: string) => {
      const answer = await srv.knock({ from, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
      expect(answer.status).toBe(101);
      return answer.address;
    };
    expect(await counted('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    // What the client wrote itself (the left part) is ignored; trusted hops are skipped.
    expect(await counted('127.0.0.1', '198.51.100.99, 203.0.113.8, 10.1.2.3')).toBe('203.0.113.8');
    // An untrusted peer's header is not believed.
    expect(await counted('127.0.0.2', '203.0.113.9')).toBe('127.0.0.2');
    // A trusted proxy's own request (no header, or only proxies in it).
    expect(await counted('127.0.0.1')).toBe('127.0.0.1');
    expect(await counted('127.0.0.1', '10.0.0.1, 10.0.0.2')).toBe('10.0.0.1');
    // Garbage stops the walk at the last address a trusted proxy wrote.
    expect(await counted('127.0.0.1', '203.0.113.10, not-an-address, 10.9.9.9')).toBe('10.9.9.9');
    // An IPv4 client seen through a dual-stack socket is the same client.
    expect(await counted('127.0.0.1', '::ffff:203.0.113.11')).toBe('203.0.113.11');
    // IPv6 clients are counted by their /64: one subscriber may use any address in it.
    expect(await counted('127.0.0.1', '2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(await srv.knock({ headers: { 'x-forwarded-for': '2001:db8:1:2:ffff:ffff:ffff:ffff' } })).toMatchObject({
      status: 429,
      reason: 'too_many_pending',
    });
    expect(await counted('127.0.0.1', '2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(await counted('127.0.0.1', '2001:db8::')).toBe('2001:db8:0:0::/64');
    // Each forwarded client has its own budget of one pending socket; the proxy's own address is full now.
    expect(srv.guard.stats().pendingAddresses).toBe(10);
    expect(await srv.knock({ from: '127.0.0.1' })).toMatchObject({ status: 429, reason: 'too_many_pending' });
  });

  test('without trustProxy X-Forwarded-For is ignored', async () => {
    await using srv = await startGuarded({ maxPendingPerIp: 1 });
    expect((await srv.knock({ headers: { 'x-forwarded-for': '203.0.113.7' } })).address).toBe('127.0.0.1');
    expect(await srv.knock({ headers: { 'x-forwarded-for': '203.0.113.8' } })).toMatchObject({ status: 429, reason: 'too_many_pending' });
  });
});

test('bounded: after sockets from many addresses close and two minutes pass, the guard holds nothing', async () => {
  await using srv = await startGuarded({ maxPendingPerIp: 2, attemptsPerIpPerMinute: 100, maxConnections: 1_000 });
  const addresses = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 1}`);
  const answers = (await Promise.all(addresses.map((from) => knockTimes(srv, 3, { from })))).flat();
  expect(answers.filter((a) => a.status === 101)).toHaveLength(80);
  expect(answers.filter((a) => a.status === 429)).toHaveLength(40);
  await Promise.all(answers.filter((a, i) => a.socket && i % 2 === 0).map((a) => srv.authenticate(a)));
  expect(srv.guard.stats()).toEqual({ pending: 40, pendingAddresses: 40, attemptAddresses: 40 });

  await srv.hangUp(answers.map((a) => a.socket));
  expect(srv.guard.stats()).toEqual({ pending: 0, pendingAddresses: 0, attemptAddresses: 40 });
  // One minute on, the attempts are those of the previous minute: still counted, still held.
  srv.clock.now += MINUTE;
  expect(srv.guard.stats().attemptAddresses).toBe(40);
  srv.clock.now += MINUTE;
  expect(srv.guard.stats()).toEqual({ pending: 0, pendingAddresses: 0, attemptAddresses: 0 });
});

describe('configuration', () => {
  const base: GuardOptions = {
    maxPendingPerIp: 1,
    attemptsPerIpPerMinute: 1,
    maxConnections: 0,
    trustProxy: [],
    allowedOrigins: null,
    openConnections: () => 0,
  };

  test.each(['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', 'proxy.internal', '10.0.0.0/8/8', '10.0.0.0/x', ''])(
    'TRUST_PROXY entry %j stops the start, naming the variable',
    (entry) => {
      expect(() => createUpgradeGuard({ ...base, trustProxy: [entry] })).toThrow(ConfigError);
      expect(() => createUpgradeGuard({ ...base, trustProxy: [entry] })).toThrow(/^TRUST_PROXY: /);
    },
  );

  test.each(['app.example.org', 'null', '*', 'file:///tmp/x'])('ALLOWED_ORIGINS entry %j stops the start, naming the variable', (entry) => {
    expect(() => createUpgradeGuard({ ...base, allowedOrigins: [entry] })).toThrow(/^ALLOWED_ORIGINS: /);
  });

  test('addresses, CIDRs and origins in their usual forms are accepted', () => {
    const guard = createUpgradeGuard({
      ...base,
      trustProxy: ['10.0.0.0/8', '192.168.1.10', 'fd00::/8', '::1', '0.0.0.0/0'],
      allowedOrigins: ['https://app.example.org', 'http://127.0.0.1:8000'],
    });
    guard.close();
  });
});
