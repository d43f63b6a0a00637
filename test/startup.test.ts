import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { AppRouter } from '../server/index';
import { startMain } from './support/process';

describe('npm start (server/main.ts)', () => {
  test('development mode prints the URL and tokens that work: subscribe with one, publish with curl-style HTTP using the other', async () => {
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1' });
    const [, wsUrl] = await proc.waitForOutput(/WebSocket\s+(ws:\/\/\S+)/);
    const [, userToken] = await proc.waitForOutput(/^ {2}user token\s+(\S+)$/m);
    const [, serviceToken] = await proc.waitForOutput(/^ {2}service token\s+(\S+)$/m);
    const httpUrl = wsUrl!.replace(/^ws/, 'http').replace(/\/api\/v1\/ws$/, '');

    const wsClient = createWSClient({
      url: wsUrl!,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams: { token: userToken! },
    });
    try {
      const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
      const received = new Promise<{ progress: number | undefined; at: Date }>((resolve, reject) => {
        trpc.investigation.onUpdate.subscribe(
          { investigationId: 'inv-1' },
          {
            onStarted: async () => {
              const res = await fetch(`${httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
                method: 'POST',
                headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
                body: JSON.stringify({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 40 } }),
              });
              if (!res.ok) reject(new Error(`publish failed: ${res.status} ${await res.text()}`));
            },
            onData: ({ data: event }) => {
              if (event.type === 'investigation_update' && event.data.updateType === 'progress') {
                resolve({ progress: event.data.progress, at: event.timestamp });
              }
            },
            onError: reject,
          },
        );
      });
      const event = await received;
      expect(event.progress).toBe(40);
      expect(event.at).toBeInstanceOf(Date);
    } finally {
      wsClient.close();
    }
  });

  test('a wrong environment value stops the start with a message naming the variable', async () => {
    await using proc = startMain({ PORT: '0', MAX_CONNECTIONS_PER_USER: 'ten', BATCH_WINDOW_MS: '-5' });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain('MAX_CONNECTIONS_PER_USER');
    expect(proc.stderr()).toContain('BATCH_WINDOW_MS');
    expect(proc.stdout()).not.toContain('listening');
  });

  test('production without JWT_SECRET refuses to start, naming the variable', async () => {
    await using proc = startMain({ PORT: '0', NODE_ENV: 'production' });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain('JWT_SECRET');
  });

  test('with JWT_SECRET set, no development token is printed', async () => {
    await using proc = startMain({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: 'x'.repeat(40) });
    await proc.waitForOutput(/WebSocket\s+ws:\/\//);
    expect(proc.stdout()).not.toMatch(/user token\s+ey/);
  });

  test('a short JWT_SECRET is refused, also as one key of several', async () => {
    await using proc = startMain({ PORT: '0', JWT_SECRET: 'short' });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toMatch(/JWT_SECRET: every key must be at least 32 characters/);
    await using rotated = startMain({ PORT: '0', JWT_SECRET: `${'k'.repeat(32)},short` });
    expect(await rotated.exited).toBe(1);
    expect(rotated.stderr()).toMatch(/JWT_SECRET: every key must be at least 32 characters/);
  });
});
