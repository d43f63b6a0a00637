import { createTRPCClient, createWSClient, httpLink, type TRPCClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { RealtimeConfig } from '../../server/config';
import { type AppRouter, createRealtimeServer, issueToken, type RealtimeServerOptions, type TokenClaims } from '../../server/index';
import { waitFor } from './wait';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export type TestServer = Awaited<ReturnType<typeof startServer>>;

/**
 * Starts a real server on an ephemeral port. Disposable: `await using srv =
 * await startServer()` closes every client it made and the server itself.
 */
export async function startServer(opts: { limits?: Partial<RealtimeConfig['limits']> } & Partial<RealtimeServerOptions> = {}) {
  const server = createRealtimeServer({
    host: '127.0.0.1',
    port: 0,
    logLevel: (process.env.LOG_LEVEL as RealtimeConfig['logLevel']) ?? 'silent',
    ...opts,
    jwtSecret: opts.jwtSecret ?? TEST_SECRET,
    limits: opts.limits,
  });
  const address = await server.listen();
  const disposers: (() => Promise<void> | void)[] = [];

  /** A token for this server's secret; `expiresInSeconds` may be short to test expiry. */
  const token = (claims: TokenClaims, expiresInSeconds = 3600) => issueToken(TEST_SECRET, claims, { expiresInSeconds });

  /** A typed tRPC client over WebSocket with the token in connectionParams (or the query). */
  function wsClient(opts: {
    token: string | (() => Promise<string> | string);
    via?: 'connectionParams' | 'query';
    onClose?: (cause?: { code?: number }) => void;
    onOpen?: () => void;
    retryDelayMs?: (attempt: number) => number;
    url?: string;
  }) {
    const via = opts.via ?? 'connectionParams';
    const tokenValue = typeof opts.token === 'string' ? opts.token : null;
    const url = opts.url ?? (via === 'query' ? `${address.wsUrl}?token=${tokenValue}` : address.wsUrl);
    const ws = createWSClient({
      url,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams:
        via === 'connectionParams' ? async () => ({ token: typeof opts.token === 'string' ? opts.token : await opts.token() }) : undefined,
      onClose: opts.onClose,
      onOpen: opts.onOpen,
      retryDelayMs: opts.retryDelayMs ?? (() => 50),
    });
    const client: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws, transformer: superjson })] });
    disposers.push(() => ws.close());
    return { client, ws };
  }

  /** A typed tRPC client over HTTP with a Bearer token (or none). */
  function httpClient(bearer?: string): TRPCClient<AppRouter> {
    return createTRPCClient<AppRouter>({
      links: [
        httpLink({
          url: `${address.httpUrl}/api/v1/trpc`,
          transformer: superjson,
          headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
        }),
      ],
    });
  }

  return {
    server,
    address,
    token,
    wsClient,
    httpClient,
    async [Symbol.asyncDispose]() {
      for (const dispose of disposers.reverse()) await dispose();
      await server.close();
    },
  };
}

/** Waits until everything keyed by connection, user or topic is gone (the bus and the engine's listeners included). */
export function waitForEmptyServer(srv: TestServer) {
  return waitFor(
    () => srv.server.stats(),
    (s) =>
      s.connections === 0 &&
      s.users === 0 &&
      s.subscriptions === 0 &&
      s.bus.topics === 0 &&
      s.bus.subscribers === 0 &&
      s.engine.listenerTopics === 0,
    'an empty server',
  );
}
