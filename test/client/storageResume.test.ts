import { describe, expect, expectTypeOf, test } from 'vitest';
import type { EventOf, InvestigationEvent } from '../../client/index';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { memoryStorage, openClient, publishProgress, TopicCollector } from './helpers';

describe('resume across page reloads (storage)', () => {
  test('a new client with the same storage resumes each topic from the stored id: only the missed events, then live ones', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['*'] });
    const storage = memoryStorage();

    {
      await using page = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
      const sub = new TopicCollector(page.client.investigation('inv-1'));
      await sub.started();
      const seen = await publishProgress(srv, 'inv-1', 0, 3);
      expect((await sub.take(3)).map((e) => e.id)).toEqual(seen);
      expect([...storage.entries.values()]).toEqual([seen[2]]);
      expect([...storage.entries.keys()][0]).toContain('investigation.onUpdate');
    } // the page is closed ("reload")
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === 0,
      'the old page to disconnect',
    );

    const missed = await publishProgress(srv, 'inv-1', 3, 2);
    await using reloaded = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
    const topic = reloaded.client.investigation('inv-1');
    const resumed = new TopicCollector(topic);
    // Without storage the same topic starts live: the difference is the stored id.
    await using fresh = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const live = new TopicCollector(fresh.client.investigation('inv-1'));
    await Promise.all([resumed.started(), live.started()]);
    const after = await publishProgress(srv, 'inv-1', 5, 1);

    expect((await resumed.take(3)).map((e) => e.id)).toEqual([...missed, ...after]);
    expect((await live.take(1)).map((e) => e.id)).toEqual(after);
    expect(topic.lastEventId).toBe(after[0]);
    expect([...storage.entries.values()]).toEqual(after);
  });

  test('a stored id older than the history (HISTORY_SIZE 3) reaches onResync, typed, then what the history keeps, then live', async () => {
    await using srv = await startServer({ limits: { HISTORY_SIZE: 3 } });
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-r'] });
    const storage = memoryStorage();
    let oldId = '';
    {
      await using page = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
      const sub = new TopicCollector(page.client.investigation('inv-r'));
      await sub.started();
      oldId = (await publishProgress(srv, 'inv-r', 0, 1))[0]!;
      await sub.take(1);
    }
    // Long enough offline for the history to move past the stored id.
    const offline = await publishProgress(srv, 'inv-r', 1, 10);

    await using reloaded = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
    const resyncs: EventOf<InvestigationEvent, 'resync_required'>[] = [];
    const topic = reloaded.client.investigation('inv-r');
    topic.onResync((event) => {
      expectTypeOf(event.data.reason).toEqualTypeOf<'history_trimmed' | 'unknown_event_id'>();
      resyncs.push(event);
    });
    const updates = new TopicCollector(topic);
    await waitFor(
      () => resyncs.length,
      (n) => n === 1,
      'the resync_required event',
    );
    expect(resyncs[0]!.data).toEqual({ topic: 'investigation:inv-r', lastEventId: oldId, reason: 'history_trimmed' });
    // The resync marks the point just before what the history keeps (the newest 3), which follows.
    const kept = offline.slice(-3);
    const afterResync = await updates.take(4);
    expect(afterResync.map((e) => e.type)).toEqual([
      'resync_required',
      'investigation_update',
      'investigation_update',
      'investigation_update',
    ]);
    expect(afterResync.slice(1).map((e) => e.id)).toEqual(kept);

    const live = await publishProgress(srv, 'inv-r', 11, 1);
    const events = await updates.take(5);
    expect(events[4]!.id).toBe(live[0]);
    expect(resyncs).toHaveLength(1);
    // From now on a reload resumes from the live position, not the stale id.
    expect([...storage.entries.values()]).toEqual(live);
  });

  test('a stored value that is not an event id is dropped and the topic starts live instead of being refused', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-x'] });
    const storage = memoryStorage();
    {
      await using page = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
      const sub = new TopicCollector(page.client.investigation('inv-x'));
      await sub.started();
      await publishProgress(srv, 'inv-x', 0, 1);
      await sub.take(1);
    }
    const [key] = [...storage.entries.keys()] as [string];
    storage.setItem(key, 'not an id');

    await using reloaded = openClient({ url: srv.address.wsUrl, getToken: () => token, storage });
    const sub = new TopicCollector(reloaded.client.investigation('inv-x'));
    await sub.started();
    expect(storage.entries.has(key)).toBe(false);
    const live = await publishProgress(srv, 'inv-x', 1, 1);
    expect((await sub.take(1)).map((e) => e.id)).toEqual(live);
    expect(sub.errors).toEqual([]);
    expect(storage.getItem(key)).toBe(live[0]);
  });
});
