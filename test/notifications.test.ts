import { TRPCClientError } from '@trpc/client';
import { expect, test } from 'vitest';
import type { AppRouter } from '../server/index';
import { type Collector, collect, type NotificationItem } from './support/collect';
import { startServer, type TestServer, waitForEmptyServer } from './support/server';
import { waitFor } from './support/wait';

type Client = ReturnType<TestServer['wsClient']>['client'];

/** A user's own connection, subscribed to their notifications. */
async function connect(srv: TestServer, userId: string, input: { lastEventId?: string } = {}) {
  const { client, ws } = srv.wsClient({ token: await srv.token({ sub: userId }) });
  const inbox = subscribeInbox(client, input);
  await inbox.started;
  return {
    client,
    inbox,
    /** Closes the connection and waits until the server has let go of it. */
    async disconnect() {
      const before = srv.server.stats().connections;
      await ws.close();
      await waitFor(
        () => srv.server.stats().connections,
        (n) => n === before - 1,
        'the closed connection to be gone',
      );
    },
  };
}

function subscribeInbox(client: Client, input: { lastEventId?: string } = {}): Collector<NotificationItem> {
  return collect<NotificationItem>((h) => client.notification.onNotification.subscribe(input, h));
}

function send(srv: TestServer, userIds: string[], title: string) {
  return srv.server.sendNotification({ userIds, title, body: `body of ${title}`, level: 'info' });
}

const titles = (items: NotificationItem[]) => items.map((i) => (i.data.type === 'notification' ? i.data.data.title : i.data.type));

test('a notification reaches only the users it is addressed to', async () => {
  await using srv = await startServer();
  const ana = await connect(srv, 'ana');
  const bia = await connect(srv, 'bia');

  const { ids } = await srv.server.sendNotification({
    userIds: ['ana'],
    title: 'Anomaly found',
    body: 'Contract CT-9 is priced 3x the market average',
    level: 'critical',
    link: 'https://cidadao.ai/inv/inv-1',
  });
  expect(ids).toHaveLength(1);
  const [first] = await ana.inbox.take(1);
  expect(first).toMatchObject({
    id: ids[0],
    data: {
      id: ids[0],
      type: 'notification',
      data: {
        title: 'Anomaly found',
        body: 'Contract CT-9 is priced 3x the market average',
        level: 'critical',
        link: 'https://cidadao.ai/inv/inv-1',
      },
    },
  });
  expect(first!.data.timestamp).toBeInstanceOf(Date);

  // Had bia received ana's notification, it would be the first thing in her inbox.
  await send(srv, ['bia'], 'for bia');
  await send(srv, ['ana'], 'for ana again');
  expect(titles(await bia.inbox.take(1))).toEqual(['for bia']);
  expect(titles(await ana.inbox.take(2))).toEqual(['Anomaly found', 'for ana again']);
  expect(titles(bia.inbox.items)).toEqual(['for bia']);
});

test("the subscription is always the caller's own: no way to read another user's notifications", async () => {
  await using srv = await startServer();
  const mallory = srv.wsClient({ token: await srv.token({ sub: 'mallory' }) }).client;

  // @ts-expect-error the input has no userId: the inbox is the caller's
  const spying = subscribeInbox(mallory, { userId: 'victim' });
  expect((await spying.failed()).data).toMatchObject({ code: 'BAD_REQUEST' });

  const inbox = subscribeInbox(mallory);
  await inbox.started;
  await send(srv, ['victim'], 'victim secret');
  await send(srv, ['mallory'], 'for mallory');
  expect(titles(await inbox.take(1))).toEqual(['for mallory']);
});

test('a notification to an offline user is delivered once, when they next subscribe', async () => {
  await using srv = await startServer();
  await send(srv, ['olga'], 'while you were away');

  const first = await connect(srv, 'olga');
  expect(titles(await first.inbox.take(1))).toEqual(['while you were away']);
  await first.disconnect();

  // A later connection starts after what was delivered: the next thing it sees is new.
  const second = await connect(srv, 'olga');
  await send(srv, ['olga'], 'fresh');
  expect(titles(await second.inbox.take(1))).toEqual(['fresh']);
});

test('several offline notifications arrive in the order they were sent', async () => {
  await using srv = await startServer();
  for (const title of ['one', 'two', 'three', 'four']) await send(srv, ['otto'], title);

  const otto = await connect(srv, 'otto');
  const got = await otto.inbox.take(4);
  expect(titles(got)).toEqual(['one', 'two', 'three', 'four']);
  const ids = got.map((i) => i.id);
  expect(new Set(ids).size).toBe(4);
});

test('with NOTIFICATION_MAX_PER_USER 3, only the last 3 of 5 offline notifications are kept', async () => {
  await using srv = await startServer({ limits: { NOTIFICATION_MAX_PER_USER: 3 } });
  for (const n of [1, 2, 3, 4, 5]) await send(srv, ['pia'], `n${n}`);

  const pia = await connect(srv, 'pia');
  await send(srv, ['pia'], 'live');
  expect(titles(await pia.inbox.take(4))).toEqual(['n3', 'n4', 'n5', 'live']);
});

test('a broadcast reaches every connected user, and a user seen before on their next subscribe', async () => {
  await using srv = await startServer();
  const ana = await connect(srv, 'ana');
  const bia = await connect(srv, 'bia');
  const cai = await connect(srv, 'cai');
  await cai.disconnect();

  const { ids } = await srv.server.sendNotification({ broadcast: true, title: 'Maintenance', body: 'at 22:00', level: 'warning' });
  expect(ids).toHaveLength(3);

  for (const user of [ana, bia]) {
    const [got] = await user.inbox.take(1);
    expect(got!.data).toMatchObject({ type: 'notification', data: { title: 'Maintenance', body: 'at 22:00', level: 'warning' } });
  }
  const caiAgain = await connect(srv, 'cai');
  expect(titles(await caiAgain.inbox.take(1))).toEqual(['Maintenance']);
});

test('the same broadcast over HTTP from a service', async () => {
  await using srv = await startServer();
  const ana = await connect(srv, 'ana');
  const service = srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));

  const { ids } = await service.notification.send.mutate({ broadcast: true, title: 'Hello', body: 'everyone', level: 'info' });
  const [got] = await ana.inbox.take(1);
  expect(ids).toContain(got!.id);
  expect(titles([got!])).toEqual(['Hello']);
});

test('a link may be a path on the frontend’s own site; it arrives as sent, over HTTP and in-process', async () => {
  await using srv = await startServer();
  const ana = await connect(srv, 'ana');
  const service = srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));

  const overHttp = await service.notification.send.mutate({
    userIds: ['ana'],
    title: 'Investigation done',
    body: 'inv-1',
    level: 'info',
    link: '/investigations/inv-1',
  });
  const inProcess = await srv.server.sendNotification({
    userIds: ['ana'],
    title: 'Report ready',
    body: 'inv-1',
    level: 'info',
    link: '/investigations/inv-1/report?format=pdf#summary',
  });
  const got = await ana.inbox.take(2);
  expect(got.map((item) => item.id)).toEqual([...overHttp.ids, ...inProcess.ids]);
  expect(got.map((item) => (item.data.type === 'notification' ? item.data.data.link : item.data.type))).toEqual([
    '/investigations/inv-1',
    '/investigations/inv-1/report?format=pdf#summary',
  ]);
});

test('a link that is not an http(s) URL or a single-slash path is refused with BAD_REQUEST, and nothing is sent', async () => {
  await using srv = await startServer();
  const ana = await connect(srv, 'ana');
  const service = srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));
  const refused = [
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '//evil.example/phish', // protocol-relative: another host
    '/\\evil.example/phish', // browsers read a backslash as a slash
    '/\t/evil.example', // browsers drop the tab: //evil.example
    'investigations/inv-1', // relative to whatever page shows it
    'mailto:someone@example.org',
  ];
  for (const link of refused) {
    const error = await service.notification.send.mutate({ userIds: ['ana'], title: 'Click me', body: 'b', level: 'info', link }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error, link).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data, link).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect((error as TRPCClientError<AppRouter>).message, link).toContain(
      'link: must be an http(s) URL or a path starting with a single /',
    );
    await expect(
      srv.server.sendNotification({ userIds: ['ana'], title: 'Click me', body: 'b', level: 'info', link }),
      link,
    ).rejects.toThrow();
  }

  // Had any of them been sent, it would be the first thing in ana's inbox.
  await send(srv, ['ana'], 'after the refusals');
  expect(titles(await ana.inbox.take(1))).toEqual(['after the refusals']);
});

test('lastEventId resumes notifications after that id, even past what was already delivered', async () => {
  await using srv = await startServer();
  const first = await connect(srv, 'rui');
  await send(srv, ['rui'], 'a');
  await send(srv, ['rui'], 'b');
  const [a] = await first.inbox.take(2);
  await first.disconnect();

  await send(srv, ['rui'], 'c');
  const resumed = await connect(srv, 'rui', { lastEventId: a!.id });
  await send(srv, ['rui'], 'd');
  const got = await resumed.inbox.take(3);
  expect(titles(got)).toEqual(['b', 'c', 'd']);
});

test('once notified users disconnect every map keyed by them is empty; their cursors stay, counted and bounded', async () => {
  await using srv = await startServer();
  const users = ['uma', 'ugo', 'una'];
  const connected = await Promise.all(users.map((userId) => connect(srv, userId)));
  await send(srv, users, 'before leaving');
  for (const user of connected) expect(titles(await user.inbox.take(1))).toEqual(['before leaving']);
  // The cursor is written a turn after delivery: once all three are held, every write is done.
  await waitFor(
    () => srv.server.stats().notificationCursors,
    (n) => n === users.length,
    'the cursors to be written',
  );

  for (const user of connected) await user.disconnect();
  await waitForEmptyServer(srv);
  // A cursor is meant to outlive its connections (the next one starts after it):
  // it is bounded by count and ttl instead, and reported in stats.
  expect(srv.server.stats().notificationCursors).toBe(users.length);

  const again = await connect(srv, 'uma');
  await send(srv, ['uma'], 'after coming back');
  expect(titles(await again.inbox.take(1))).toEqual(['after coming back']);
});
