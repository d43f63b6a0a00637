import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { MessageRateLimiterOptions, RateLimiter } from '../../server/limits/messageRateLimiter';
import { type NodesFactory, nodesTracker } from '../support/sharedStores';

/** Consumes `n` times and returns how many were allowed. */
async function allowedOf(n: number, consume: () => Promise<boolean>): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (await consume()) allowed++;
  return allowed;
}

/**
 * What every RateLimiter does, through the interface only. Two `node()`s of
 * one `nodes(opts)` are two servers (the same limiter in memory). The window
 * (burst / perSecond = 5 s) is far longer than the test takes.
 */
export function describeRateLimiterContract(name: string, nodesOf: NodesFactory<RateLimiter, MessageRateLimiterOptions>) {
  describe(`RateLimiter contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = () => tracker.track(nodesOf({ perSecond: 1, burst: 5 }));
    const id = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

    test('a user gets the burst, then is refused; another user has a budget of their own', async () => {
      const limiter = await nodes().node();
      const [alice, bob] = [id('alice'), id('bob')];

      expect(await allowedOf(8, () => limiter.consumeUser(alice))).toBe(5);
      expect(await limiter.consumeUser(bob)).toBe(true);
    });

    test('a user’s budget is one across nodes; other users are apart from it', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const [alice, bob] = [id('alice'), id('bob')];

      expect(await allowedOf(3, () => a.consumeUser(alice))).toBe(3);
      expect(await allowedOf(4, () => b.consumeUser(alice))).toBe(2);
      expect(await a.consumeUser(alice)).toBe(false);
      expect(await b.consumeUser(bob)).toBe(true);
    });
  });
}
