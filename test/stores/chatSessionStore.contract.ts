import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { createSessionRenewal } from '../../server/chat/sessionRenewal';
import type { ChatSessionStore, ChatSessionStoreOptions } from '../../server/chat/sessionStore';
import { type NodesFactory, nodesTracker, silentLogger } from '../support/sharedStores';
import { waitFor } from '../support/wait';

const roomy: ChatSessionStoreOptions = { maxSessionsPerUser: 100, maxWatchedPerSession: 50, historyTtlMs: 60_000 };

/** What `use` answers, or the reason it refused with. */
const outcomeOf = (use: Promise<unknown>) =>
  use.then(
    (access) => access,
    (err: { reason?: string }) => err.reason,
  );

/**
 * What every ChatSessionStore does, through the interface only. `nodes(opts)`
 * gives stores over one shared state: two `node()`s are two servers (the same
 * store in memory), so a claim made on one is seen by the other.
 */
export function describeChatSessionStoreContract(name: string, nodesOf: NodesFactory<ChatSessionStore, ChatSessionStoreOptions>) {
  describe(`ChatSessionStore contract: ${name}`, () => {
    const tracker = nodesTracker();
    afterEach(() => tracker.closeAll());
    const nodes = (opts: Partial<ChatSessionStoreOptions> = {}) => tracker.track(nodesOf({ ...roomy, ...opts }));
    const id = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

    test('the first user to use a session owns it: another user is refused, on any node', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const session = id('s');

      expect(await a.use(session, 'alice')).toBe('owner');
      await expect(b.use(session, 'bob')).rejects.toMatchObject({ code: 'FORBIDDEN', reason: 'session_owned_by_other' });
      await expect(a.use(session, 'bob')).rejects.toMatchObject({ reason: 'session_owned_by_other' });
      // Still alice's, from both nodes.
      expect(await a.use(session, 'alice')).toBe('owner');
      expect(await b.use(session, 'alice')).toBe('owner');
    });

    test('two users racing for a new session: exactly one wins', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const sessions = Array.from({ length: 20 }, () => id('race'));

      const results = await Promise.all(
        sessions.map((session) => Promise.allSettled([a.use(session, 'alice'), b.use(session, 'bob')]).then((r) => r.map((x) => x.status))),
      );
      for (const outcome of results) expect(outcome.filter((s) => s === 'fulfilled')).toHaveLength(1);
    });

    test('an admin read (allowForeign) of another user’s session is allowed and claims nothing', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const session = id('s');
      await a.use(session, 'alice');

      expect(await b.use(session, 'admin', true)).toBe('reader');
      expect(await a.use(session, 'alice')).toBe('owner');
      await expect(b.use(session, 'admin')).rejects.toMatchObject({ reason: 'session_owned_by_other' });
    });

    test('a user owns at most maxSessionsPerUser sessions; other users are unaffected', async () => {
      const shared = nodes({ maxSessionsPerUser: 2 });
      const [a, b] = [await shared.node(), await shared.node()];
      const [s1, s2, s3] = [id('s1'), id('s2'), id('s3')];

      await a.use(s1, 'alice');
      await b.use(s2, 'alice');
      await expect(a.use(s3, 'alice')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'too_many_sessions' });
      await expect(b.use(s3, 'alice')).rejects.toMatchObject({ reason: 'too_many_sessions' });
      // Using one already owned is not a new session.
      await b.use(s1, 'alice');
      await b.use(s3, 'bob');
    });

    test('one user claiming many new sessions at once on two nodes never exceeds the bound', async () => {
      const shared = nodes({ maxSessionsPerUser: 5 });
      const [a, b] = [await shared.node(), await shared.node()];
      const alice = id('alice');

      const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => outcomeOf((i % 2 === 0 ? a : b).use(id('s'), alice))));
      expect(outcomes.filter((o) => o === 'owner')).toHaveLength(5);
      expect(outcomes.filter((o) => o !== 'owner').every((o) => o === 'too_many_sessions')).toBe(true);
    });

    test('a session lost to another user takes no place in the loser’s bound', async () => {
      const shared = nodes({ maxSessionsPerUser: 1 });
      const [a, b] = [await shared.node(), await shared.node()];
      const [alice, bob] = [id('alice'), id('bob')];
      const contested = id('s');

      await Promise.allSettled([a.use(contested, alice), b.use(contested, bob)]);
      const [winner, loser] = (await outcomeOf(a.use(contested, alice))) === 'owner' ? [alice, bob] : [bob, alice];
      await expect(b.use(contested, loser)).rejects.toMatchObject({ reason: 'session_owned_by_other' });
      expect(await b.use(id('own'), loser)).toBe('owner');
      await expect(a.use(id('more'), winner)).rejects.toMatchObject({ reason: 'too_many_sessions' });
    });

    test('eraseUser forgets the user’s sessions with their watches on every node, frees the bound, and leaves others alone', async () => {
      const shared = nodes({ maxSessionsPerUser: 2 });
      const [a, b] = [await shared.node(), await shared.node()];
      const [alice, bob] = [id('alice'), id('bob')];
      const [s1, s2, s3] = [id('s1'), id('s2'), id('s3')];
      const [i1, i2] = [id('inv'), id('inv')];
      await a.use(s1, alice);
      await b.use(s2, alice);
      await a.use(s3, bob);
      await a.watch(s1, i1);
      await b.watch(s2, i2);
      await a.watch(s3, i1);

      expect((await b.eraseUser(alice)).sort()).toEqual([s1, s2].sort());
      expect(await a.watchersOf(i1)).toEqual([s3]);
      expect(await a.watchersOf(i2)).toEqual([]);
      expect(await b.watchedBy(s1)).toEqual([]);
      expect(await a.watchedBy(s3)).toEqual([i1]);
      expect(await a.eraseUser(alice)).toEqual([]);
      // Her sessions are anyone's now, and her bound is free again.
      expect(await a.use(s1, bob)).toBe('owner');
      expect(await b.use(id('new'), alice)).toBe('owner');
      expect(await a.use(id('new'), alice)).toBe('owner');
    });

    test('a session watches at most maxWatchedPerSession investigations; watching one again is free', async () => {
      const shared = nodes({ maxWatchedPerSession: 2 });
      const [a, b] = [await shared.node(), await shared.node()];
      const session = id('s');
      await a.use(session, 'alice');

      await a.watch(session, 'inv-1');
      await b.watch(session, 'inv-2');
      await a.watch(session, 'inv-1');
      await expect(b.watch(session, 'inv-3')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'too_many_watched' });
      expect((await a.watchedBy(session)).sort()).toEqual(['inv-1', 'inv-2']);
    });

    test('watchersOf and watchedBy agree across nodes', async () => {
      const shared = nodes();
      const [a, b] = [await shared.node(), await shared.node()];
      const [s1, s2] = [id('s1'), id('s2')];
      const [i1, i2] = [id('inv'), id('inv')];
      await a.use(s1, 'alice');
      await b.use(s2, 'bob');

      await a.watch(s1, i1);
      await b.watch(s2, i1);
      await b.watch(s2, i2);

      expect((await a.watchersOf(i1)).sort()).toEqual([s1, s2].sort());
      expect(await b.watchersOf(i2)).toEqual([s2]);
      expect(await a.watchersOf(id('nobody-watches'))).toEqual([]);
      expect((await a.watchedBy(s2)).sort()).toEqual([i1, i2].sort());
      expect(await b.watchedBy(s1)).toEqual([i1]);
      expect(await a.watchedBy(id('never-used'))).toEqual([]);
    });

    test('an idle session stops watching after the ttl, and stays its owner’s for a ttl more: the life of the last event it got', async () => {
      const historyTtlMs = 500;
      const shared = nodes({ historyTtlMs });
      const [a, b] = [await shared.node(), await shared.node()];
      const session = id('s');
      const investigation = id('inv');
      const usedFrom = Date.now();
      await a.use(session, 'alice');
      await a.watch(session, investigation);
      expect(await b.watchersOf(investigation)).toEqual([session]);

      await waitFor(
        () => b.watchersOf(investigation),
        (w) => w.length === 0,
        'the idle session to stop watching',
      );
      // An event copied into the session's topic just before it stopped
      // watching is in its history for one ttl more: nobody else may read it.
      const askedAt = Date.now();
      const intruder = await outcomeOf(b.use(session, 'bob'));
      // (Only judged when this machine was quick enough to ask within twice the ttl, when alice must still own it.)
      if (askedAt < usedFrom + 2 * historyTtlMs) expect(intruder).toBe('session_owned_by_other');
      // Her watches are still listed; using the session makes them live again.
      if (intruder !== 'owner') {
        expect(await a.watchedBy(session)).toEqual([investigation]);
        expect(await a.use(session, 'alice')).toBe('owner');
        expect(await b.watchersOf(investigation)).toEqual([session]);
      }
    });

    test('an expired session is forgotten with its watches; then anyone may claim it, and the maps are empty', async () => {
      const shared = nodes({ historyTtlMs: 200 });
      const [a, b] = [await shared.node(), await shared.node()];
      const session = id('s');
      const investigation = id('inv');
      await a.use(session, 'alice');
      await a.watch(session, investigation);

      // (A shared store holds nothing in the process: its maps are always empty.)
      await waitFor(
        () => a.stats(),
        (s) => s.chatSessions === 0 && s.chatOwners === 0 && s.watchedInvestigations === 0,
        'the maps to empty',
      );
      await waitFor(
        () => outcomeOf(b.use(session, 'bob')),
        (r) => r === 'owner',
        'the expired session to be claimable',
      );
      expect(await b.watchersOf(investigation)).toEqual([]);
      expect(await b.watchedBy(session)).toEqual([]);
      await expect(a.use(session, 'alice')).rejects.toMatchObject({ reason: 'session_owned_by_other' });
    });

    test('renewed while its owner is subscribed, an idle session outlives its ttl with its watches; then it expires', async () => {
      // Renewals every ttl/3: a ttl long enough that a loaded machine's late timer does not miss one.
      const shared = nodes({ historyTtlMs: 1_200 });
      const [a, b] = [await shared.node(), await shared.node()];
      const [guarded, control] = [id('guarded'), id('control')];
      const investigation = id('inv');
      await a.use(guarded, 'alice');
      await a.watch(guarded, investigation);
      // What a node does for a subscribed owner (chat.onEvent open): renews on a timer, asking the subscription whether it is still open.
      const renewal = createSessionRenewal({ everyMs: a.renewEveryMs, renew: (s, u) => a.use(s, u), logger: silentLogger });
      const subscription = { isClosed: false };
      renewal.hold(guarded, 'alice', subscription);
      try {
        // Claimed after the guarded session's last explicit use: once bob can
        // take it, the guarded one would have expired too without renewals.
        await a.use(control, 'alice');
        await waitFor(
          () => outcomeOf(b.use(control, 'bob')),
          (r) => r === 'owner',
          'the unrenewed session to expire',
        );

        await expect(b.use(guarded, 'bob')).rejects.toMatchObject({ code: 'FORBIDDEN', reason: 'session_owned_by_other' });
        expect(await b.watchersOf(investigation)).toEqual([guarded]);
        expect(await b.watchedBy(guarded)).toEqual([investigation]);
        expect(renewal.size()).toBe(1);

        // The subscription ends: the renewals stop, and the session expires like any other.
        subscription.isClosed = true;
        await waitFor(
          () => outcomeOf(b.use(guarded, 'bob')),
          (r) => r === 'owner',
          'the session to expire once nobody renews it',
        );
        expect(renewal.size()).toBe(0);
      } finally {
        renewal.close();
      }
    });

    test('expired sessions no longer count toward the per-user bound', async () => {
      const shared = nodes({ maxSessionsPerUser: 1, historyTtlMs: 200 });
      const [a, b] = [await shared.node(), await shared.node()];
      await a.use(id('old'), 'alice');
      await expect(b.use(id('new'), 'alice')).rejects.toMatchObject({ reason: 'too_many_sessions' });

      const fresh = id('fresh');
      await waitFor(
        () =>
          b.use(fresh, 'alice').then(
            () => 'claimed',
            (err: { reason?: string }) => err.reason,
          ),
        (r) => r === 'claimed',
        'the expired session to free its slot',
      );
    });
  });
}
