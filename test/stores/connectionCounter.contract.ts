import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { UserConnectionCounter } from '../../server/limits/connectionCounter';
import { type NodesFactory, nodesTracker } from '../support/sharedStores';

export interface CounterOptions {
  maxPerUser: number;
}

/**
 * What every UserConnectionCounter does, through the interface only. Two
 * `node()`s of one `nodes(opts)` are two servers counting the same users (the
 * same counter in memory): the limit holds across them.
 */
export function describeConnectionCounterContract(name: string, nodesOf: NodesFactory<UserConnectionCounter, CounterOptions>) {
  describe(`UserConnectionCounter contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = (maxPerUser: number) => tracker.track(nodesOf({ maxPerUser }));
    const user = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

    test('up to maxPerUser connections per user; the next is refused; other users are unaffected', async () => {
      const counter = await nodes(3).node();
      const [alice, bob] = [user('alice'), user('bob')];

      for (const c of ['c1', 'c2', 'c3']) expect(await counter.acquire(alice, c)).toBe(true);
      expect(await counter.acquire(alice, 'c4')).toBe(false);
      // Acquiring a counted connection again does not count it twice.
      expect(await counter.acquire(alice, 'c1')).toBe(true);
      expect(await counter.acquire(alice, 'c4')).toBe(false);
      expect(await counter.acquire(bob, 'b1')).toBe(true);
    });

    test('a release frees its slot; releasing twice frees nothing more; everything released leaves the maps empty', async () => {
      const counter = await nodes(2).node();
      const alice = user('alice');
      await counter.acquire(alice, 'c1');
      await counter.acquire(alice, 'c2');
      expect(counter.stats()).toEqual({ users: 1, connections: 2 });

      await counter.release(alice, 'c1');
      await counter.release(alice, 'c1');
      expect(await counter.acquire(alice, 'c3')).toBe(true);
      expect(await counter.acquire(alice, 'c4')).toBe(false);

      await counter.release(alice, 'c2');
      await counter.release(alice, 'c3');
      expect(counter.stats()).toEqual({ users: 0, connections: 0 });
    });

    test('two nodes: the limit holds across them, and a release on one frees a slot for the other', async () => {
      const shared = nodes(3);
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');

      expect(await a.acquire(alice, 'a1')).toBe(true);
      expect(await a.acquire(alice, 'a2')).toBe(true);
      expect(await b.acquire(alice, 'b1')).toBe(true);
      expect(await b.acquire(alice, 'b2')).toBe(false);
      expect(await a.acquire(alice, 'a3')).toBe(false);

      await a.release(alice, 'a1');
      expect(await b.acquire(alice, 'b2')).toBe(true);
      expect(await a.acquire(alice, 'a3')).toBe(false);
    });

    test('concurrent acquires on two nodes never exceed the limit', async () => {
      const shared = nodes(5);
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = user('alice');

      const granted = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).acquire(alice, `c${i}`)));
      expect(granted.filter(Boolean)).toHaveLength(5);
    });
  });
}
