import { describe, expect, test } from 'vitest';
import { issueToken } from '../../server/index';
import { ManualClock } from '../support/manualClock';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { closedWithCode, Gate, isClosed, isOpen, isReconnecting, openClient, publishProgress, TopicCollector } from './helpers';

describe('tokens: getToken at every (re)connect', () => {
  test('a token that expires is replaced through getToken and the subscription resumes with no event lost or repeated', async () => {
    const clock = new ManualClock();
    await using srv = await startServer({ clock });
    const issued: string[] = [];
    const freshTokenWanted = new Gate();
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: async () => {
        if (issued.length > 0) await freshTokenWanted.opened;
        // The first token lives a minute of the server's clock (it closes with 4001 at its expiry); the next one an hour.
        const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] }, issued.length === 0 ? 60 : 3600);
        issued.push(token);
        return token;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-1'));
    await sub.started();
    const before = await publishProgress(srv, 'inv-1', 0, 3);
    await sub.take(3);

    clock.advance(61_000);
    const expired = await c.states.next(isReconnecting, 'the expiry to close the connection');
    expect(expired).toMatchObject({ code: 4001, reason: 'token_expired' });
    // The reconnect is waiting for its token: what is published now can only arrive by resume.
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === 0,
      'the expired connection to be gone',
    );
    const missed = await publishProgress(srv, 'inv-1', 3, 3);
    freshTokenWanted.open();

    await sub.started(2);
    const live = await publishProgress(srv, 'inv-1', 6, 1);
    const events = await sub.take(7);
    expect(events.map((e) => e.id)).toEqual([...before, ...missed, ...live]);
    expect(sub.events).toHaveLength(7);
    expect(sub.errors).toEqual([]);
    expect(issued).toHaveLength(2);
    expect(issued[1]).not.toBe(issued[0]);
    expect(c.states.history.map((s) => s.status)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
  });

  test('a refused token is never sent twice: getToken returning it again surfaces closed 4001; reconnect() with a good one resumes', async () => {
    await using srv = await startServer();
    const forged = await issueToken('a-secret-this-server-does-not-know-at-all', { sub: 'analyst', investigations: ['inv-2'] });
    let current = forged;
    let calls = 0;
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: () => {
        calls++;
        return current;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-2'));

    const closed = await c.states.next(isClosed, 'closed after the refused token came back');
    expect(closed).toEqual({ status: 'closed', code: 4001, reason: 'token_rejected: getToken returned the token the server refused' });
    // One connection, refused; the second getToken answer never reached the server.
    expect(calls).toBe(2);
    expect(await closedWithCode(srv, 4001)).toBe(1);
    // Calls fail at once while closed instead of waiting for a connection that is not coming.
    await expect(c.client.trpc.system.health.query()).rejects.toThrow(/not connected: closed with 4001/);

    // The app signs in again and asks to reconnect: the subscription made before starts now.
    current = await srv.token({ sub: 'analyst', investigations: ['inv-2'] });
    c.client.reconnect();
    await sub.started();
    const live = await publishProgress(srv, 'inv-2', 0, 1);
    expect((await sub.take(1)).map((e) => e.id)).toEqual(live);
    expect(calls).toBe(3);
    expect(await closedWithCode(srv, 4001)).toBe(1);
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

  test('a failing getToken is retried with backoff (reconnecting, code null) and the client then connects', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-3'] });
    let calls = 0;
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: () => {
        if (calls++ === 0) throw new Error('the auth service is down');
        return token;
      },
    });
    const sub = new TopicCollector(c.client.investigation('inv-3'));
    const failed = await c.states.next(isReconnecting, 'the failed getToken to show');
    expect(failed).toMatchObject({ attempt: 1, code: null, reason: 'getToken or url failed: the auth service is down' });
    await c.states.next(isOpen, 'the retry to connect');
    await sub.started();
    expect(calls).toBe(2);
    expect(c.states.history.map((s) => s.status)).toEqual(['connecting', 'reconnecting', 'connecting', 'open']);
  });

  test('close() while getToken has not answered resolves at once, and nothing reaches the server', async () => {
    await using srv = await startServer();
    const never = new Gate();
    const c = openClient({ url: srv.address.wsUrl, getToken: () => never.opened.then(() => 'unused') });
    c.client.investigation('inv-4').on('investigation_update', () => undefined);
    await c.client.close();
    expect(c.client.state).toEqual({ status: 'closed', code: 1000, reason: 'closed by the client' });
    expect(srv.server.stats().connections).toBe(0);
    expect(await closedWithCode(srv, 4001)).toBe(0);
  });
});
