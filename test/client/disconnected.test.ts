import { describe, expect, test } from 'vitest';
import { startServer } from '../support/server';
import { closedWithCode, isClosed, isOpen, isReconnecting, openClient, publishProgress, TopicCollector } from './helpers';

/**
 * admin.disconnectUser closes the user's connections with 4003: the SDK treats
 * it like a refused token. It reconnects only with a token getToken returns
 * that differs from the one that was disconnected; the same token again
 * surfaces `closed` (4003) rather than undoing the operator's action.
 */
describe('the SDK after an operator disconnect (4003)', () => {
  test('getToken returning the same token: closed with 4003, nothing sent again; reconnect() with a new token resumes', async () => {
    await using srv = await startServer();
    const ops = srv.httpClient(await srv.token({ sub: 'ops', roles: ['service'] }));
    let current = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    let calls = 0;
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: () => {
        calls++;
        return current;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-1'));
    await sub.started();
    const before = await publishProgress(srv, 'inv-1', 0, 2);
    await sub.take(2);

    await ops.admin.disconnectUser.mutate({ userId: 'analyst', reason: 'account under review' });
    const closed = await c.states.next(isClosed, 'closed after the disconnected token came back');
    expect(closed).toEqual({ status: 'closed', code: 4003, reason: 'disconnected: getToken returned the token the server disconnected' });
    // One connection, disconnected; the token getToken gave again never reached the server.
    expect(calls).toBe(2);
    expect(await closedWithCode(srv, 4003)).toBe(1);
    expect(srv.server.stats().connections).toBe(0);
    const missed = await publishProgress(srv, 'inv-1', 2, 2);

    // The app signs in again: a new token, and the subscription resumes from its last event.
    current = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    c.client.reconnect();
    await sub.started(2);
    const events = await sub.take(4);
    expect(events.map((e) => e.id)).toEqual([...before, ...missed]);
    expect(calls).toBe(3);
    expect(c.states.history.map((s) => s.status)).toEqual([
      'connecting',
      'open',
      'reconnecting',
      'connecting',
      'closed',
      'connecting',
      'open',
    ]);
  });

  test('getToken returning a different token: the client reconnects by itself and resumes', async () => {
    await using srv = await startServer();
    const ops = srv.httpClient(await srv.token({ sub: 'ops', roles: ['service'] }));
    const issued: string[] = [];
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: async () => {
        const token = await srv.token({ sub: 'analyst', investigations: ['inv-2'] });
        issued.push(token);
        return token;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-2'));
    await sub.started();

    await ops.admin.disconnectUser.mutate({ userId: 'analyst' });
    expect(await c.states.next(isReconnecting, 'the disconnect')).toMatchObject({ code: 4003 });
    await c.states.next(isOpen, 'the reconnect with a new token');
    await sub.started(2);
    const live = await publishProgress(srv, 'inv-2', 0, 1);
    expect((await sub.take(1)).map((e) => e.id)).toEqual(live);
    expect(issued).toHaveLength(2);
    expect(issued[1]).not.toBe(issued[0]);
  });
});
