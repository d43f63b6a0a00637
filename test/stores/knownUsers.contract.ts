import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { KnownUsers, KnownUsersOptions } from '../../server/notifications/knownUsers';
import { type NodesFactory, nodesTracker } from '../support/sharedStores';
import { waitFor } from '../support/wait';

/**
 * What every KnownUsers store does, through the interface only. Two `node()`s
 * of one `nodes(opts)` share their state (the same store in memory).
 */
export function describeKnownUsersContract(name: string, nodesOf: NodesFactory<KnownUsers, KnownUsersOptions>) {
  describe(`KnownUsers contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = (opts: Partial<KnownUsersOptions> = {}) => tracker.track(nodesOf({ ttlMs: 60_000, maxUsers: 1_000, ...opts }));
    const user = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

    test('a user seen on one node is listed on every node, once', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const [alice, bob] = [user('alice'), user('bob')];

      await a.touch(alice);
      await b.touch(bob);
      await b.touch(alice);

      expect((await a.list()).sort()).toEqual([alice, bob].sort());
      expect((await b.list()).sort()).toEqual([alice, bob].sort());
    });

    test('past maxUsers the least recently seen is dropped', async () => {
      const shared = nodes({ maxUsers: 3 });
      const [a, b] = [await shared.node(), await shared.node()];
      const [u1, u2, u3, u4] = [user('u1'), user('u2'), user('u3'), user('u4')];

      await a.touch(u1);
      await b.touch(u2);
      await a.touch(u3);
      await b.touch(u1);
      await a.touch(u4);

      expect((await b.list()).sort()).toEqual([u1, u3, u4].sort());
    });

    test('a user not seen for the retention is no longer listed, and the maps empty', async () => {
      const shared = nodes({ ttlMs: 300 });
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');
      await a.touch(alice);
      expect(await b.list()).toEqual([alice]);

      await waitFor(
        () => b.list(),
        (users) => users.length === 0,
        'the retention to pass',
      );
      await waitFor(
        () => a.stats(),
        (s) => s.knownUsers === 0,
        'the map to empty',
      );
    });
  });
}
