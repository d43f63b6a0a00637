import { createElement, type ReactNode } from 'react';
import { afterAll, describe, expect, test } from 'vitest';
import type { RealtimeClient } from '../../client/index';
import { type InvestigationUpdates, RealtimeProvider, useInvestigationUpdates } from '../../client/react/index';
import type { TestServer } from '../support/server';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { closeWindow, mount } from './happyDom';
import { droppableWebSocket, Gate, isOpen, isReconnecting, openClient, publishProgress, subscriptionsReach } from './helpers';

/**
 * The React hooks on a real server, over a real WebSocket, rendered with
 * react-dom into happy-dom: what components show, and what the server and
 * the SDK hold meanwhile.
 */
afterAll(closeWindow);

/** What each mounted component returned from the hook on its last render, by its name. */
type Seen = Map<string, InvestigationUpdates>;

function Watcher({ name, investigationId, seen }: { name: string; investigationId: string; seen: Seen }) {
  const inv = useInvestigationUpdates(investigationId);
  seen.set(name, inv);
  return createElement('p', { 'data-name': name }, `${name}: ${inv.subscription} ${inv.timeline.map((e) => e.id).join(',')}`);
}

function app(client: RealtimeClient, seen: Seen, names: readonly string[], investigationId = 'inv-1'): ReactNode {
  return createElement(
    RealtimeProvider,
    { client },
    names.map((name) => createElement(Watcher, { key: name, name, investigationId, seen })),
  );
}

/** Waits until every named component is live and shows exactly `ids` as its timeline. */
function shown(seen: Seen, names: readonly string[], ids: readonly string[]) {
  return waitFor(
    () => names.map((name) => ({ name, subscription: seen.get(name)?.subscription, ids: seen.get(name)?.timeline.map((e) => e.id) })),
    (views) => views.every((view) => view.subscription === 'live' && JSON.stringify(view.ids) === JSON.stringify(ids)),
    `${names.join(' and ')} to show ${ids.length} events`,
  );
}

/** The server's subscriptions and bus subscribers, and the SDK's topics and folds. */
function held(srv: TestServer, client: RealtimeClient) {
  const stats = srv.server.stats();
  return { subscriptions: stats.subscriptions, busSubscribers: stats.bus.subscribers, sdk: client.stats() };
}

describe('useInvestigationUpdates on the SDK’s folded topics', () => {
  test('two components share one server subscription and one folded state, which starts with what was published before they mounted; unmounting both releases both', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const before = await publishProgress(srv, 'inv-1', 10, 2);
    const anomaly = await srv.server.notifyAnomalyDetected({
      investigationId: 'inv-1',
      anomaly: { severity: 'critical', description: 'unit price 3x market', contractId: 'CT-1', confidence: 0.9 },
    });
    const seen: Seen = new Map();

    const page = await mount(app(c.client, seen, ['a', 'b']));
    await shown(seen, ['a', 'b'], [...before, anomaly.id]);
    expect(held(srv, c.client)).toEqual({ subscriptions: 1, busSubscribers: 1, sdk: { topics: 1, folds: 1 } });
    // One fold: both components render the very same state.
    const [a, b] = [seen.get('a')!, seen.get('b')!];
    expect(a.timeline).toBe(b.timeline);
    expect(a).toMatchObject({ progress: 11, stage: 'step 11', anomalyCount: 1, anomaliesBySeverity: { critical: 1 } });
    expect(page.container.textContent).toContain(`a: live ${[...before, anomaly.id].join(',')}`);

    const live = await publishProgress(srv, 'inv-1', 12, 1);
    await shown(seen, ['a', 'b'], [...before, anomaly.id, ...live]);
    expect(seen.get('a')!.timeline).toBe(seen.get('b')!.timeline);

    page.unmount();
    await subscriptionsReach(srv, 0, 'the server subscription to end with the last component');
    expect(held(srv, c.client)).toEqual({ subscriptions: 0, busSubscribers: 0, sdk: { topics: 0, folds: 0 } });
  });

  test('a component mounted later shows the whole state at once, and an emitter handler shares the same subscription', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['first']));
    const ids = await publishProgress(srv, 'inv-1', 0, 3);
    await shown(seen, ['first'], ids);

    const handled: string[] = [];
    const off = c.client.investigation('inv-1').on('investigation_update', (event) => handled.push(event.id));
    const other = await mount(app(c.client, seen, ['later']));
    await shown(seen, ['first', 'later'], ids);
    expect(seen.get('later')!.timeline).toBe(seen.get('first')!.timeline);

    const next = await publishProgress(srv, 'inv-1', 3, 1);
    await shown(seen, ['first', 'later'], [...ids, ...next]);
    await waitFor(
      () => handled,
      (list) => list.length === 1,
      'the handler to get the new event',
    );
    // The handler joined a running subscription: it gets what came after, once.
    expect(handled).toEqual(next);
    expect(held(srv, c.client)).toEqual({ subscriptions: 1, busSubscribers: 1, sdk: { topics: 1, folds: 1 } });

    page.unmount();
    other.unmount();
    // The handler still listens: the subscription stays, the fold is gone.
    await waitFor(
      () => c.client.stats(),
      (stats) => stats.folds === 0,
      'the fold to be dropped with its last reader',
    );
    expect(c.client.stats()).toEqual({ topics: 1, folds: 0 });
    expect(srv.server.stats().subscriptions).toBe(1);
    off();
    await subscriptionsReach(srv, 0);
    expect(c.client.stats()).toEqual({ topics: 0, folds: 0 });
  });

  test('the connection drops: the folded state resumes from the last event id, with nothing twice and nothing missing', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    const network = droppableWebSocket();
    // While `away` is set the client cannot get back in: events are published meanwhile.
    let away: Gate | null = null;
    await using c = openClient({
      url: srv.address.wsUrl,
      WebSocket: network.WebSocket,
      getToken: async () => {
        await away?.opened;
        return token;
      },
    });
    await c.states.next(isOpen, 'open');
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['page']));
    const first = await publishProgress(srv, 'inv-1', 0, 3);
    await shown(seen, ['page'], first);

    away = new Gate();
    network.drop();
    await c.states.next(isReconnecting, 'reconnecting after the drop');
    const meanwhile = await publishProgress(srv, 'inv-1', 3, 3);
    away.open();
    await c.states.next(isOpen, 'open again');
    const after = await publishProgress(srv, 'inv-1', 6, 2);

    const all = [...first, ...meanwhile, ...after];
    await shown(seen, ['page'], all);
    expect(seen.get('page')!.lastEventId).toBe(all.at(-1));
    expect(held(srv, c.client)).toEqual({ subscriptions: 1, busSubscribers: 1, sdk: { topics: 1, folds: 1 } });

    page.unmount();
    await subscriptionsReach(srv, 0);
  });

  test('resync() drops the folded state and folds again what the server retains, for every component', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const ids = await publishProgress(srv, 'inv-1', 0, 3);
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['a', 'b']));
    await shown(seen, ['a', 'b'], ids);
    const before = seen.get('a')!;

    before.resync();
    await waitFor(
      () => seen.get('b')!,
      (inv) => inv.timeline !== before.timeline && inv.subscription === 'live' && inv.timeline.length === ids.length,
      'the state folded again',
    );
    await shown(seen, ['a', 'b'], ids);
    expect(seen.get('a')!.timeline).toBe(seen.get('b')!.timeline);
    await subscriptionsReach(srv, 1, 'one subscription after the restart');

    page.unmount();
    await subscriptionsReach(srv, 0);
    expect(c.client.stats()).toEqual({ topics: 0, folds: 0 });
  });

  test('a refused investigation shows the error with its code and reason, and holds nothing on the server', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['secret'], 'inv-secret'));
    const refused = await waitFor(
      () => seen.get('secret'),
      (inv) => inv?.subscription === 'error',
      'the refusal',
    );
    expect(refused!.subscriptionError).toMatchObject({ code: 'FORBIDDEN', reason: 'not_granted' });
    expect(srv.server.stats().subscriptions).toBe(0);
    page.unmount();
    await waitFor(
      () => c.client.stats(),
      (stats) => stats.topics === 0 && stats.folds === 0,
      'the client to hold nothing',
    );
  });
});
