import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import type { Revocations, RevocationsOptions } from '../../server/auth/revocations';
import { type NodesFactory, nodesTracker } from '../support/sharedStores';
import { waitFor } from '../support/wait';

/**
 * What every Revocations store does, through the interface only. Two
 * `node()`s of one `nodes(opts)` share their state (the same store in memory).
 */
export function describeRevocationsContract(name: string, nodesOf: NodesFactory<Revocations, RevocationsOptions>) {
  describe(`Revocations contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = (opts: Partial<RevocationsOptions> = {}) => tracker.track(nodesOf({ lifetimeMs: 60_000, ...opts }));
    const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

    test('a revocation of access recorded on one node is read on every node, per user and resource', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const [alice, bob] = [unique('alice'), unique('bob')];

      expect(await b.accessRevokedAt(alice, 'investigation:inv-1')).toBeNull();
      await a.revokeAccess(alice, 'investigation:inv-1', 1_000);

      expect(await b.accessRevokedAt(alice, 'investigation:inv-1')).toBe(1_000);
      expect(await b.accessRevokedAt(alice, 'investigation:inv-2')).toBeNull();
      expect(await b.accessRevokedAt(alice, 'analysis:inv-1')).toBeNull();
      expect(await b.accessRevokedAt(bob, 'investigation:inv-1')).toBeNull();
    });

    test('a later revocation replaces an earlier one; an earlier one arriving late changes nothing', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = unique('alice');

      await a.revokeAccess(alice, 'analysis:an-1', 1_000);
      await b.revokeAccess(alice, 'analysis:an-1', 5_000);
      expect(await a.accessRevokedAt(alice, 'analysis:an-1')).toBe(5_000);
      await a.revokeAccess(alice, 'analysis:an-1', 3_000);
      expect(await b.accessRevokedAt(alice, 'analysis:an-1')).toBe(5_000);
    });

    test('a revoked token is revoked on every node; others are not', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const [jti, other] = [randomUUID(), randomUUID()];

      expect(await b.isTokenRevoked(jti)).toBe(false);
      await a.revokeToken(jti);
      expect(await b.isTokenRevoked(jti)).toBe(true);
      expect(await a.isTokenRevoked(jti)).toBe(true);
      expect(await b.isTokenRevoked(other)).toBe(false);
    });

    test('records are forgotten after their lifetime, and the maps empty', async () => {
      const shared = nodes({ lifetimeMs: 300 });
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = unique('alice');
      const jti = randomUUID();
      await a.revokeAccess(alice, 'investigation:inv-1', 1_000);
      await a.revokeToken(jti);
      expect(await b.isTokenRevoked(jti)).toBe(true);

      await waitFor(
        async () => [await b.isTokenRevoked(jti), await b.accessRevokedAt(alice, 'investigation:inv-1')],
        ([revoked, at]) => revoked === false && at === null,
        'the records to expire',
      );
      await waitFor(
        () => a.stats(),
        (s) => s.revokedAccess === 0 && s.revokedTokens === 0,
        'the maps to empty',
      );
    });
  });
}
