import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { NotificationCursors, NotificationCursorsOptions } from '../../server/notifications/notificationCursors';
import { type NodesFactory, nodesTracker } from '../support/sharedStores';
import { waitFor } from '../support/wait';

/**
 * What every NotificationCursors store does, through the interface only. Two
 * `node()`s of one `nodes(opts)` share their state (the same store in memory).
 */
export function describeNotificationCursorsContract(name: string, nodesOf: NodesFactory<NotificationCursors, NotificationCursorsOptions>) {
  describe(`NotificationCursors contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = (opts: Partial<NotificationCursorsOptions> = {}) => tracker.track(nodesOf({ ttlMs: 60_000, maxUsers: 1_000, ...opts }));
    const user = (label = 'user') => `${label}-${randomUUID().slice(0, 8)}`;

    test('a cursor advanced on one node is read on every node; an unknown user has none', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');

      expect(await a.get(alice)).toBeNull();
      await a.advance(alice, '1700000000000-2');
      expect(await a.get(alice)).toBe('1700000000000-2');
      expect(await b.get(alice)).toBe('1700000000000-2');
      expect(await b.get(user('bob'))).toBeNull();
    });

    test('only moves forward', async () => {
      const cursors = await nodes().node();
      const alice = user('alice');
      await cursors.advance(alice, '1700000000005-0');
      await cursors.advance(alice, '1700000000003-9');
      expect(await cursors.get(alice)).toBe('1700000000005-0');
      await cursors.advance(alice, '1700000000005-0');
      expect(await cursors.get(alice)).toBe('1700000000005-0');
      await cursors.advance(alice, '1700000000005-1');
      expect(await cursors.get(alice)).toBe('1700000000005-1');
    });

    test('numeric order, not string order', async () => {
      const cursors = await nodes().node();
      const alice = user('alice');
      await cursors.advance(alice, '1700000000005-9');
      await cursors.advance(alice, '1700000000005-10');
      expect(await cursors.get(alice)).toBe('1700000000005-10');
      await cursors.advance(alice, '1700000000005-9');
      expect(await cursors.get(alice)).toBe('1700000000005-10');
      // A longer millisecond part is later, though it sorts first as a string.
      await cursors.advance(alice, '10000000000000-0');
      expect(await cursors.get(alice)).toBe('10000000000000-0');
    });

    test('racing writers, on several nodes, end at the newest', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');
      const ids = ['1700000000007-0', '1700000000009-0', '1700000000008-0', '1700000000006-0', '1700000000009-0', '1700000000001-5'];
      await Promise.all(ids.map((id, i) => (i % 2 === 0 ? a : b).advance(alice, id)));
      expect(await a.get(alice)).toBe('1700000000009-0');
      expect(await b.get(alice)).toBe('1700000000009-0');
    });

    test('cursors of different users are apart', async () => {
      const cursors = await nodes().node();
      const [alice, bob] = [user('alice'), user('bob')];
      await cursors.advance(alice, '1700000000009-0');
      await cursors.advance(bob, '1700000000001-0');
      expect(await cursors.get(alice)).toBe('1700000000009-0');
      expect(await cursors.get(bob)).toBe('1700000000001-0');
    });

    test('expires a ttl after its last advance; an expired cursor no longer holds a newer id, and the maps empty', async () => {
      const shared = nodes({ ttlMs: 300 });
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');
      await a.advance(alice, '1700000000009-0');

      await waitFor(
        () => b.get(alice),
        (id) => id === null,
        'the cursor to expire',
      );
      await waitFor(
        () => a.stats(),
        (s) => s.notificationCursors === 0,
        'the map to empty',
      );
      await b.advance(alice, '1700000000001-0');
      expect(await a.get(alice)).toBe('1700000000001-0');
    });
  });
}
