import { describe, expect, test } from 'vitest';
import { type InvestigationEvent, investigationFold, notificationsFold, retainedNotificationsFold } from '../../client/index';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { FoldReader, openClient, publishProgress, subscriptionsReach, TopicCollector } from './helpers';

const timelineIds = (events: readonly InvestigationEvent[]) => events.map((event) => event.id);

describe('folded topics in the SDK: client.investigation(id).fold(spec)', () => {
  test('a fold joining a topic whose handler already runs restarts it from 0-0 for itself: one subscription, the handler gets nothing twice', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const before = await publishProgress(srv, 'inv-1', 0, 2);

    const handler = new TopicCollector(c.client.investigation('inv-1'));
    await handler.started();
    const seenByHandler = await publishProgress(srv, 'inv-1', 2, 2);
    await handler.take(2);

    const fold = new FoldReader(c.client.investigation('inv-1').fold(investigationFold));
    const all = [...before, ...seenByHandler];
    await fold.until((s) => s.status === 'live' && s.state.timeline.length === all.length, 'the fold to replay the retained history');
    expect(timelineIds(fold.snapshot.state.timeline)).toEqual(all);

    const next = await publishProgress(srv, 'inv-1', 4, 1);
    await fold.until((s) => s.state.lastEventId === next[0], 'the fold to get the next event');
    expect((await handler.take(3)).map((e) => e.id)).toEqual([...seenByHandler, ...next]);
    expect(handler.events).toHaveLength(3);
    expect(handler.errors).toEqual([]);
    await subscriptionsReach(srv, 1, 'one subscription after the restart');
    expect(c.client.stats()).toEqual({ topics: 1, folds: 1 });

    fold.stop();
    expect(c.client.stats()).toEqual({ topics: 1, folds: 0 });
    handler.unsubscribe();
    expect(c.client.stats()).toEqual({ topics: 0, folds: 0 });
    await subscriptionsReach(srv, 0);
  });

  test('on a trimmed topic the fold gets what the server still keeps, and the handler nothing twice', async () => {
    await using srv = await startServer({ limits: { HISTORY_SIZE: 3 } });
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-t'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const handler = new TopicCollector(c.client.investigation('inv-t'));
    await handler.started();
    const published = await publishProgress(srv, 'inv-t', 0, 5);
    await handler.take(5);

    const fold = new FoldReader(c.client.investigation('inv-t').fold(investigationFold));
    // `0-0` asks for everything kept: the newest 3 of the 5, and no resync (nothing to refetch).
    const rebuilt = await fold.until((s) => s.state.timeline.length === 3, 'the fold to get the retained history');
    expect(timelineIds(rebuilt.state.timeline)).toEqual(published.slice(2));
    expect(rebuilt.state.resyncRequired).toBeNull();

    const next = await publishProgress(srv, 'inv-t', 5, 1);
    await fold.until((s) => s.state.lastEventId === next[0], 'the fold to carry on live');
    expect(timelineIds(fold.snapshot.state.timeline)).toEqual([...published.slice(2), ...next]);
    expect((await handler.take(6)).map((e) => e.id)).toEqual([...published, ...next]);
    expect(handler.events.filter((e) => e.type === 'resync_required')).toEqual([]);

    fold.stop();
    handler.unsubscribe();
    await subscriptionsReach(srv, 0);
  });

  test('every reader of a topic and spec shares one state; a reader leaving keeps it for the others', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const ids = await publishProgress(srv, 'inv-1', 0, 2);
    const first = new FoldReader(c.client.investigation('inv-1').fold(investigationFold));
    const second = new FoldReader(c.client.investigation('inv-1').fold(investigationFold));
    await first.until((s) => s.state.timeline.length === 2, 'the history');
    expect(second.snapshot).toBe(first.snapshot);
    expect(timelineIds(first.snapshot.state.timeline)).toEqual(ids);

    first.stop();
    const next = await publishProgress(srv, 'inv-1', 2, 1);
    await second.until((s) => s.state.lastEventId === next[0], 'the remaining reader to follow');
    expect(c.client.stats()).toEqual({ topics: 1, folds: 1 });
    second.stop();
    expect(c.client.stats()).toEqual({ topics: 0, folds: 0 });
    await subscriptionsReach(srv, 0);
  });

  test('notifications: the default fold starts at the server’s delivered cursor, the retained one replays what is kept', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana' });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const send = (title: string) => srv.server.sendNotification({ userIds: ['ana'], title, body: 'b', level: 'info' });

    await send('while offline');
    const undelivered = new FoldReader(c.client.notifications().fold(notificationsFold));
    await undelivered.until((s) => s.state.items.length === 1, 'what was not delivered yet');
    undelivered.stop();
    await subscriptionsReach(srv, 0);

    // Delivered once: the default fold starts after it; the retained one shows it again.
    const again = new FoldReader(c.client.notifications().fold(notificationsFold));
    await again.until((s) => s.status === 'live', 'live');
    await send('live');
    await again.until((s) => s.state.items.length === 1, 'the live notification');
    expect(again.snapshot.state.items.map((n) => n.title)).toEqual(['live']);
    again.stop();
    await subscriptionsReach(srv, 0);

    const retained = new FoldReader(c.client.notifications().fold(retainedNotificationsFold));
    await retained.until((s) => s.state.items.length === 2, 'everything retained');
    expect(retained.snapshot.state.items.map((n) => n.title)).toEqual(['live', 'while offline']);
    retained.stop();
    await waitFor(
      () => c.client.stats(),
      (stats) => stats.topics === 0 && stats.folds === 0,
      'the client to hold nothing',
    );
  });
});
