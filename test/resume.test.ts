import { setImmediate as nextTurn } from 'node:timers/promises';
import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';
import { createMemoryEngine } from '../server/bus/memoryEngine';
import type { AppRouter } from '../server/index';
import { CloseCode } from '../shared/closeCodes';
import { compareEventIds } from '../shared/eventId';
import { type AnalysisItem, type ChatItem, collect, type InvestigationItem } from './support/collect';
import { ManualClock } from './support/manualClock';
import { progress, publishProgress } from './support/progress';
import { RawWs } from './support/rawWs';
import { startServer, type TestServer } from './support/server';
import { waitFor } from './support/wait';

async function userClient(srv: TestServer, sub = 'analyst') {
  return srv.wsClient({ token: await srv.token({ sub, investigations: ['*'], analyses: ['*'] }) }).client;
}

function expectNoDuplicates(ids: readonly string[]) {
  expect(new Set(ids).size).toBe(ids.length);
}

describe('resume with lastEventId', () => {
  test('returns exactly the missed events, then live ones, with no duplicate', async () => {
    await using srv = await startServer();
    const client = await userClient(srv);

    const first = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await first.started;
    const seen = await publishProgress(srv, 'inv-1', 0, 3);
    expect((await first.take(3)).map((i) => i.id)).toEqual(seen);
    first.unsubscribe();
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 0,
      'the first subscription to end',
    );

    const missed = await publishProgress(srv, 'inv-1', 3, 3);
    const resumed = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: seen[2] }, o),
    );
    await resumed.started;
    const live = await publishProgress(srv, 'inv-1', 6, 2);

    const items = await resumed.take(5);
    expect(items.map((i) => i.id)).toEqual([...missed, ...live]);
    expect(
      items.map((i) => i.data.type === 'investigation_update' && i.data.data.updateType === 'progress' && i.data.data.progress),
    ).toEqual([3, 4, 5, 6, 7]);
    // Nothing already seen came back, before or after.
    expect(resumed.items.map((i) => i.id)).toEqual([...missed, ...live]);
    expect(first.items).toHaveLength(3);
  });

  test('the client resumes by itself after the server drops the connection (token expiry, 4001)', async () => {
    const clock = new ManualClock();
    await using srv = await startServer({ clock });
    const closes: (number | undefined)[] = [];
    let tokensIssued = 0;
    let missed: Promise<string[]> | null = null;
    const { client } = srv.wsClient({
      // The first token expires when the test moves the server's clock past
      // it, which makes the server close the socket with 4001; the reconnect
      // asks for a fresh one.
      token: () => srv.token({ sub: 'analyst', investigations: ['inv-1'] }, tokensIssued++ === 0 ? 60 : 3600),
      onClose: (cause) => {
        closes.push(cause?.code);
        // Published before the client can be back: only a resume delivers them.
        if (closes.length === 1) {
          // All three calls start in this tick, so all are stored before any reconnect.
          missed = Promise.all([3, 4, 5].map((i) => progress(srv, 'inv-1', i))).then((events) => events.map((e) => e.id));
        }
      },
    });
    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, o));
    await sub.started;
    const before = await publishProgress(srv, 'inv-1', 0, 3);
    await sub.take(3);

    clock.advance(61_000);
    await waitFor(
      () => ({ closes: closes.length, tokensIssued }),
      (s) => s.closes === 1 && s.tokensIssued >= 2,
      'the token to expire and the client to reconnect',
    );
    const missedIds = await missed!;
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 1,
      'the subscription to be back on the new connection',
    );
    const after = await publishProgress(srv, 'inv-1', 6, 2);

    const items = await sub.take(8);
    expect(closes[0]).toBe(CloseCode.UNAUTHORIZED);
    expect(items.map((i) => i.id)).toEqual([...before, ...missedIds, ...after]);
    expect(sub.items).toHaveLength(8);
  });

  test('a raw client sending params.lastEventId (as the tRPC client does on reconnect) gets the missed events', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'raw', investigations: ['inv-raw'] });
    const ids = await publishProgress(srv, 'inv-raw', 0, 6);

    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
    raw.send({
      id: 1,
      method: 'subscription',
      params: { path: 'investigation.onUpdate', input: { json: { investigationId: 'inv-raw' } }, lastEventId: ids[2] },
    });
    await raw.frame((f) => f.id === 1 && f.result?.type === 'started', 'started');
    const live = await publishProgress(srv, 'inv-raw', 6, 1);
    await raw.waitForEvents(1, 4);

    const events = raw.deliveries(1);
    expect(events.map((e) => e.trackedId)).toEqual([...ids.slice(3), ...live]);
    for (const { trackedId, payload } of events) {
      expect(payload.id).toBe(trackedId);
      expect(payload.data.id).toBe(trackedId);
      expect(payload.data.timestamp).toBeInstanceOf(Date);
    }
  });
});

describe('an id the history does not reach yields resync_required', () => {
  test('`0-0` on a trimmed topic replays everything still kept, with no resync (a page rebuilding its state)', async () => {
    await using srv = await startServer({ limits: { HISTORY_SIZE: 5 } });
    const client = await userClient(srv);
    const ids = await publishProgress(srv, 'inv-1', 0, 20);

    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: '0-0' }, o),
    );
    await sub.started;
    const [live] = await publishProgress(srv, 'inv-1', 20, 1);
    const items = await sub.take(6);
    expect(items.map((i) => i.id)).toEqual([...ids.slice(15), live]);
    expect(items.every((i) => i.data.type === 'investigation_update')).toBe(true);
  });

  test('an id trimmed from the history: resync (its id just before what is kept), then everything kept, then live events; resuming from the resync id or the last one goes on quietly', async () => {
    await using srv = await startServer({ limits: { HISTORY_SIZE: 5 } });
    const client = await userClient(srv);
    const ids = await publishProgress(srv, 'inv-1', 0, 20);

    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: ids[0] }, o),
    );
    await sub.started;
    const [resync, ...kept] = await sub.take(6);
    expect(resync!.data).toMatchObject({
      type: 'resync_required',
      data: { topic: 'investigation:inv-1', lastEventId: ids[0], reason: 'history_trimmed' },
    });
    expect(resync!.data.timestamp).toBeInstanceOf(Date);
    expect(resync!.id).toBe(resync!.data.id);
    // The point just before the first event kept (the newest one trimmed), then nothing kept is skipped.
    expect(resync!.id).toBe(ids[14]);
    expect(kept.map((i) => i.id)).toEqual(ids.slice(15));
    expect(kept.every((i) => i.data.type === 'investigation_update')).toBe(true);

    // A reconnect that sends the resync's id (nothing received after it) gets exactly what is kept, with no second resync.
    const fromResync = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: resync!.id }, o),
    );
    await fromResync.started;
    const [live] = await publishProgress(srv, 'inv-1', 20, 1);
    expect((await fromResync.take(6)).map((i) => i.id)).toEqual([...ids.slice(15), live]);
    expect((await sub.take(7))[6]!.id).toBe(live);

    // One that sends the last id it received goes on from there.
    sub.unsubscribe();
    const missed = await publishProgress(srv, 'inv-1', 21, 2);
    const again = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: live }, o),
    );
    await again.started;
    const later = await publishProgress(srv, 'inv-1', 23, 1);
    const items = await again.take(3);
    expect(items.map((i) => i.id)).toEqual([...missed, ...later]);
    expect(items.every((i) => i.data.type === 'investigation_update')).toBe(true);
  });

  test.each([
    ['older than anything this topic issued', '1-0'],
    ['newer than anything this topic issued (another life of the server)', '999999999999999-0'],
  ])('a well-formed id never issued, %s: resync from the start, then every event kept, then live ones', async (_, lastEventId) => {
    await using srv = await startServer();
    const client = await userClient(srv);
    const kept = await publishProgress(srv, 'inv-1', 0, 3);

    const sub = collect<InvestigationItem>((o) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId }, o));
    await sub.started;
    const [live] = await publishProgress(srv, 'inv-1', 3, 1);
    const [resync, ...rest] = await sub.take(5);
    expect(resync!.data.type).toBe('resync_required');
    expect(resync!.data.data).toMatchObject({ topic: 'investigation:inv-1', lastEventId, reason: 'unknown_event_id' });
    // Nothing was trimmed: the point before the first event kept is the topic's start.
    expect(resync!.id).toBe('0-0');
    expect(rest.map((i) => i.id)).toEqual([...kept, live]);
  });

  test('an id for a topic that has no history at all (server restarted)', async () => {
    await using srv = await startServer();
    const client = await userClient(srv);
    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-new', lastEventId: '1700000000000-3' }, o),
    );
    await sub.started;
    const [live] = await publishProgress(srv, 'inv-new', 0, 1);
    const [resync, next] = await sub.take(2);
    expect(resync!.data).toMatchObject({
      type: 'resync_required',
      data: { topic: 'investigation:inv-new', lastEventId: '1700000000000-3' },
    });
    expect(resync!.id).toBe('0-0');
    expect(next!.id).toBe(live);
  });

  test('no resync for a client that had seen everything, once the history expired', async () => {
    // The engine's clock stands still until the test moves it past the history's ttl.
    const clock = new ManualClock();
    await using srv = await startServer({ limits: { HISTORY_TTL_SECONDS: 1 }, engine: createMemoryEngine({ now: () => clock.now() }) });
    const client = await userClient(srv);
    const [head] = await publishProgress(srv, 'inv-1', 0, 1);
    clock.advance(1_100);
    // The history is empty now; the client's last id is still the topic's newest.

    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: head }, o),
    );
    await sub.started;
    const [live] = await publishProgress(srv, 'inv-1', 1, 1);
    const [first] = await sub.take(1);
    expect(first!.data.type).toBe('investigation_update');
    expect(first!.id).toBe(live);
  });

  test('a malformed lastEventId is BAD_REQUEST', async () => {
    await using srv = await startServer();
    const client = await userClient(srv);
    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: 'abc' }, o),
    );
    const err = await sub.failed();
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('BAD_REQUEST');
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 0,
      'no subscription left behind',
    );
  });
});

test('resume race: clients resuming while events are published in a tight loop each get the exact sequence after their id', async () => {
  await using srv = await startServer({ limits: { HISTORY_SIZE: 10_000 } });
  const before = await publishProgress(srv, 'inv-race', 0, 200);

  const TOTAL = 2000;
  const RESUMERS = 5;
  const during: Promise<{ id: string }>[] = [];
  type Resumer = { startAfter: string; sub: ReturnType<typeof collect<InvestigationItem>> };
  const resumers: Resumer[] = [];
  let started = 0;
  const resumeFrom = async (startAfter: string, n: number) => {
    const client = await userClient(srv, `client-${n}`);
    const sub = collect<InvestigationItem>((o) =>
      client.investigation.onUpdate.subscribe({ investigationId: 'inv-race', lastEventId: startAfter }, o),
    );
    resumers.push({ startAfter, sub });
    void sub.started.then(() => started++);
  };

  // Subscriptions are set up while the loop runs: a few publishes per turn
  // leave the server room to replay history while new events keep coming.
  // The loop goes on until every client is attached and then some more, so
  // each one resumed while the topic was being written, however slow the machine.
  const starting: Promise<void>[] = [];
  let afterAllStarted = 0;
  for (let i = 0; i < TOTAL || afterAllStarted < 200; i++) {
    if (i > 50 * TOTAL) throw new Error(`only ${started} of ${RESUMERS} clients started`);
    during.push(progress(srv, 'inv-race', 200 + i));
    if (i === 0) for (const k of [0, 99, 198]) starting.push(resumeFrom(before[k]!, k));
    if (i === 300) starting.push(during[150]!.then((e) => resumeFrom(e.id, 1000)));
    if (i === 900) starting.push(during[899]!.then((e) => resumeFrom(e.id, 2000)));
    if (started === RESUMERS) afterAllStarted++;
    if (i % 25 === 0) await nextTurn();
  }
  await Promise.all(starting);
  const all = [...before, ...(await Promise.all(during)).map((e) => e.id)];
  for (let i = 1; i < all.length; i++) expect(compareEventIds(all[i - 1]!, all[i]!)).toBeLessThan(0);
  const lastId = all[all.length - 1]!;

  expect(resumers).toHaveLength(RESUMERS);
  for (const { startAfter, sub } of resumers) {
    const items = await sub.until((items) => items.some((i) => i.id === lastId), `the last event after ${startAfter}`);
    const ids = items.map((i) => i.id);
    expectNoDuplicates(ids);
    expect(ids).toEqual(all.slice(all.indexOf(startAfter) + 1));
  }
});

describe('analysis and chat resume the same way', () => {
  test('analysis.onUpdate', async () => {
    await using srv = await startServer();
    const client = await userClient(srv);
    const update = (n: number) =>
      srv.server.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'partial_result', data: { result: { n }, sequence: n } });

    const first = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1' }, o));
    await first.started;
    const seen = [(await update(0)).id, (await update(1)).id];
    await first.take(2);
    first.unsubscribe();
    const missed = [(await update(2)).id, (await update(3)).id];

    const resumed = collect<AnalysisItem>((o) => client.analysis.onUpdate.subscribe({ analysisId: 'an-1', lastEventId: seen[1] }, o));
    await resumed.started;
    const live = (await update(4)).id;
    const items = await resumed.take(3);
    expect(items.map((i) => i.id)).toEqual([...missed, live]);
    expect(
      items.map((i) => i.data.type === 'analysis_update' && i.data.data.updateType === 'partial_result' && i.data.data.sequence),
    ).toEqual([2, 3, 4]);
  });

  test('chat.onEvent, its own events and those of a watched investigation', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'ana', investigations: ['inv-1'] });
    const { client } = srv.wsClient({ token });
    const http = srv.httpClient(token);

    const first = collect<ChatItem>((o) => client.chat.onEvent.subscribe({ sessionId: 's-1' }, o));
    await first.started;
    await http.chat.watchInvestigation.mutate({ sessionId: 's-1', investigationId: 'inv-1' });
    await http.chat.typing.mutate({ sessionId: 's-1', isTyping: true });
    await progress(srv, 'inv-1', 10);
    const seen = await first.take(2);
    first.unsubscribe();
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === 0,
      'the first subscription to end',
    );

    await http.chat.typing.mutate({ sessionId: 's-1', isTyping: false });
    await progress(srv, 'inv-1', 20);

    const resumed = collect<ChatItem>((o) => client.chat.onEvent.subscribe({ sessionId: 's-1', lastEventId: seen[1]!.id }, o));
    await resumed.started;
    await http.chat.typing.mutate({ sessionId: 's-1', isTyping: true });
    const items = await resumed.take(3);
    const summary = items.map((i) =>
      i.data.type === 'typing'
        ? `typing:${i.data.data.isTyping}`
        : i.data.type === 'investigation_update' && i.data.data.updateType === 'progress'
          ? `progress:${i.data.data.progress}`
          : i.data.type,
    );
    expect(summary).toEqual(['typing:false', 'progress:20', 'typing:true']);
    expectNoDuplicates([...seen, ...items].map((i) => i.id));
    for (let i = 1; i < items.length; i++) expect(compareEventIds(items[i - 1]!.id, items[i]!.id)).toBeLessThan(0);
  });
});
