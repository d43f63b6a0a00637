import { describe, expect, test } from 'vitest';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { closedWithCode, isOpen, isReconnecting, openClient, publishProgress, TopicCollector } from './helpers';

describe('too many connections (4008)', () => {
  test('the refused client waits the maximum delay instead of looping, keeps its subscription, and gets in once a slot frees', async () => {
    await using srv = await startServer({ limits: { MAX_CONNECTIONS_PER_USER: 1 } });
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using first = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const firstSub = new TopicCollector(first.client.investigation('inv-1'));
    await firstSub.started();

    // Same user, second tab. A maximum delay longer than any test: a second attempt could only come from a loop.
    const maxMs = 10 * 60_000;
    await using second = openClient({ url: srv.address.wsUrl, getToken: () => token, backoff: { initialMs: 20, maxMs } });
    const secondSub = new TopicCollector(second.client.investigation('inv-1'));

    const refused = await second.states.next(isReconnecting, 'the second client to be refused');
    expect(refused).toEqual({ status: 'reconnecting', attempt: 1, nextDelayMs: maxMs, code: 4008, reason: 'too_many_connections' });
    expect(await closedWithCode(srv, 4008)).toBe(1);

    // The first connection is unaffected: it still delivers (a full round trip
    // through the server, during which a looping client would have come back).
    const [id] = await publishProgress(srv, 'inv-1', 1, 1);
    expect((await firstSub.take(1)).map((e) => e.id)).toEqual([id]);
    expect(await closedWithCode(srv, 4008)).toBe(1);
    expect(second.states.count('connecting')).toBe(1);
    expect(second.client.state).toEqual(refused);
    expect(srv.server.stats().connections).toBe(1);

    // The first tab goes away; the app asks the second to try now rather than in ten minutes.
    await first.client.close();
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === 0,
      'the first connection to be released',
    );
    second.client.reconnect();
    await second.states.next(isOpen, 'the second client to connect');
    await secondSub.started();
    const [next] = await publishProgress(srv, 'inv-1', 2, 1);
    expect((await secondSub.take(1)).map((e) => e.id)).toEqual([next]);
    // The subscription it made while refused was never failed to the app.
    expect(secondSub.errors).toEqual([]);
    expect(await closedWithCode(srv, 4008)).toBe(1);
  });
});
