import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../../server/index';

/**
 * What a newcomer does with the tokens a server printed or `npm run token`
 * issued: subscribes with the user's over the WebSocket (the typed client),
 * publishes a progress update with the service's over plain HTTP, and gets
 * the event. Resolves with what arrived.
 */
export async function subscribeAndPublish(opts: {
  wsUrl: string;
  httpUrl: string;
  userToken: string;
  serviceToken: string;
  progress: number;
}): Promise<{ progress: number | undefined; at: Date }> {
  const wsClient = createWSClient({
    url: opts.wsUrl,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token: opts.userToken },
  });
  try {
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
    return await new Promise((resolve, reject) => {
      trpc.investigation.onUpdate.subscribe(
        { investigationId: 'inv-1' },
        {
          onStarted: async () => {
            const res = await fetch(`${opts.httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
              method: 'POST',
              headers: { authorization: `Bearer ${opts.serviceToken}`, 'content-type': 'application/json' },
              body: JSON.stringify({ investigationId: 'inv-1', updateType: 'progress', data: { progress: opts.progress } }),
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
  } finally {
    wsClient.close();
  }
}
