import { expect, test } from 'vitest';
import { startServer } from './support/server';

test('smoke: subscribe and receive', async () => {
  await using srv = await startServer();
  const userToken = await srv.token({ sub: 'u1', investigations: ['inv-1'] });
  const serviceToken = await srv.token({ sub: 'svc', roles: ['service'] });
  const { client } = srv.wsClient({ token: userToken });
  const got: unknown[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const sub = client.investigation.onUpdate.subscribe(
      { investigationId: 'inv-1' },
      {
        onStarted: async () => {
          await srv.httpClient(serviceToken).investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 40 } });
        },
        onData: (d) => {
          got.push(d);
          sub.unsubscribe();
          resolve();
        },
        onError: reject,
      },
    );
  });
  await done;
  console.log(JSON.stringify(got), got[0]);
  expect(got).toHaveLength(1);
  console.log(srv.server.stats());
});
