import { once } from 'node:events';
import { createServer } from 'node:net';
import { decodeJwt } from 'jose';
import { describe, expect, test } from 'vitest';
import { MAX_JWT_KEYS } from '../server/auth/tokenKeys';
import { issueToken } from '../server/index';
import { startMain } from './support/process';
import { subscribeAndPublish } from './support/tokensWork';

describe('npm start (server/main.ts)', () => {
  test('development mode prints the URL and tokens that work: subscribe with one, publish with curl-style HTTP using the other', async () => {
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1' });
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const [, userToken] = await proc.waitForOutput(/^ {2}user token\s+(\S+)$/m);
    const [, serviceToken] = await proc.waitForOutput(/^ {2}service token\s+(\S+)$/m);
    const httpUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');

    const event = await subscribeAndPublish({ wsUrl: wsUrl!, httpUrl, userToken: userToken!, serviceToken: serviceToken!, progress: 40 });
    expect(event.progress).toBe(40);
    expect(event.at).toBeInstanceOf(Date);
  });

  test('a wrong environment value stops the start with a message naming the variable', async () => {
    await using proc = startMain({ PORT: '0', MAX_CONNECTIONS_PER_USER: 'ten', BATCH_WINDOW_MS: '-5' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toContain('MAX_CONNECTIONS_PER_USER');
    expect(proc.stderr()).toContain('BATCH_WINDOW_MS');
    expect(proc.stdout()).not.toContain('listening');
  });

  test('Redis settings that cannot work stop the start: cluster nodes not host:port, a prefix with a hash tag, REDIS_URL and REDIS_CLUSTER_NODES both', async () => {
    await using bad = startMain({
      PORT: '0',
      REDIS_CLUSTER_NODES: '127.0.0.1,localhost:x',
      REDIS_KEY_PREFIX: 'rt{a}:',
      REDIS_WAIT_REPLICAS: '-1',
    });
    expect((await bad.exited).code).toBe(1);
    for (const name of ['REDIS_CLUSTER_NODES', 'REDIS_KEY_PREFIX', 'REDIS_WAIT_REPLICAS']) expect(bad.stderr()).toContain(name);
    await using both = startMain({ PORT: '0', REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect((await both.exited).code).toBe(1);
    expect(both.stderr()).toContain('REDIS_URL and REDIS_CLUSTER_NODES');
    expect(both.stdout()).not.toContain('listening');
  });

  test('production without JWT_SECRET refuses to start, naming the variable', async () => {
    await using proc = startMain({ PORT: '0', NODE_ENV: 'production' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toContain('JWT_SECRET');
  });

  test('with JWT_SECRET set, no development token is printed', async () => {
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: 'x'.repeat(40) });
    await proc.waitForOutput(/WebSocket\s+ws:\/\//);
    expect(proc.stdout()).not.toMatch(/user token\s+ey/);
  });

  test('a short JWT_SECRET is refused, also as one key of several', async () => {
    await using proc = startMain({ PORT: '0', JWT_SECRET: 'short' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toMatch(/JWT_SECRET: every key must be at least 32 characters/);
    await using rotated = startMain({ PORT: '0', JWT_SECRET: `${'k'.repeat(32)},short` });
    expect((await rotated.exited).code).toBe(1);
    expect(rotated.stderr()).toMatch(/JWT_SECRET: every key must be at least 32 characters/);
  });

  test('JWT_SECRET with several keys: tokens of each verify, of no key are refused; more than MAX_JWT_KEYS stop the start', async () => {
    const [current, previous, stranger] = [
      'current-key-that-signs-tokens-000000',
      'previous-key-still-accepted-1111111',
      'a-key-the-server-never-had-22222222',
    ];
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: `${current}, ${previous}` });
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const healthUrl = `${wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '')}/api/v1/trpc/system.health`;
    const statusWith = async (secret: string) =>
      (await fetch(healthUrl, { headers: { authorization: `Bearer ${await issueToken(secret, { sub: 'u1' })}` } })).status;
    expect(await statusWith(current)).toBe(200);
    expect(await statusWith(previous)).toBe(200);
    expect(await statusWith(stranger)).toBe(401);

    const tooMany = Array.from({ length: MAX_JWT_KEYS + 1 }, (_, i) => `rotation-key-number-${i}-padded-to-32-chars`);
    await using refused = startMain({ PORT: '0', JWT_SECRET: tooMany.join(',') });
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr()).toContain(`JWT_SECRET: at most ${MAX_JWT_KEYS} keys`);
    expect(refused.stdout()).not.toContain('listening');
  });

  test('development tokens live no longer than MAX_TOKEN_LIFETIME_SECONDS, so the server accepts them', async () => {
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1', MAX_TOKEN_LIFETIME_SECONDS: '3600' });
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const [, serviceToken] = await proc.waitForOutput(/^ {2}service token\s+(\S+)$/m);
    expect(proc.stdout()).toContain('These tokens are valid for 1 hour');
    const { exp, iat } = decodeJwt(serviceToken!);
    expect(exp! - iat!).toBe(3600);
    const httpUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');
    const res = await fetch(`${httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 1 } }),
    });
    expect(res.status).toBe(200);
  });

  test('a busy port stops the start with one line naming PORT, and exit code 1', async () => {
    await using blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    await using proc = startMain({ PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: 'x'.repeat(40) });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toBe(`port ${port} is in use: set PORT\n`);
    expect(proc.stdout()).not.toContain('listening');
  });

  test('the banner names the address the socket is bound to, besides the URLs to connect to', async () => {
    await using proc = startMain({ PORT: '0', JWT_SECRET: 'x'.repeat(40) });
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const port = new URL(wsUrl!).port;
    // HOST's default: every interface, reached from this machine on loopback.
    expect(proc.stdout()).toContain(`listening on 0.0.0.0:${port} (in-memory engine)`);
    expect(wsUrl).toBe(`ws://127.0.0.1:${port}/api/v1/ws`);

    await using loopback = startMain({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: 'x'.repeat(40) });
    const [, loopbackUrl] = await loopback.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    expect(loopback.stdout()).toContain(`listening on 127.0.0.1:${new URL(loopbackUrl!).port} `);
  });
});
