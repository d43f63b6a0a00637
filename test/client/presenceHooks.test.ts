import { createElement } from 'react';
import { afterAll, describe, expect, test } from 'vitest';
import type { RealtimeClient } from '../../client/index';
import { type PresenceState, RealtimeProvider, usePresence } from '../../client/react/index';
import { startServer, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';
import { closeWindow, mount } from './happyDom';
import { droppableWebSocket, openClient } from './helpers';

/** usePresence on a real server, over the SDK's WebSocket, rendered with react-dom into happy-dom. */
afterAll(closeWindow);

type Seen = Map<string, PresenceState>;

function Watching({ name, investigationId, seen }: { name: string; investigationId: string | null; seen: Seen }) {
  const presence = usePresence(investigationId);
  seen.set(name, presence);
  return createElement(
    'p',
    { 'data-name': name },
    `${name}: ${presence.status} ${presence.total} ${presence.members.map((m) => `${m.userId}x${m.connections}`).join(',')}`,
  );
}

function app(client: RealtimeClient, seen: Seen, names: readonly string[], investigationId: string | null = 'inv-w') {
  return createElement(
    RealtimeProvider,
    { client },
    names.map((name) => createElement(Watching, { key: name, name, investigationId, seen })),
  );
}

function shows(seen: Seen, name: string, text: string) {
  return waitFor(
    () => seen.get(name),
    (p) => p?.status === 'live' && p.members.map((m) => `${m.userId}x${m.connections}`).join(',') === text,
    `${name} to show ${text || 'nobody'}`,
  );
}

/** A tab of `user` on the investigation, over its own SDK client. */
async function tabOf(srv: TestServer, user: string, investigationId = 'inv-w') {
  const token = await srv.token({ sub: user, investigations: [investigationId] });
  const c = openClient({ url: srv.address.wsUrl, getToken: () => token });
  const stop = c.client.investigation(investigationId).subscribe({ onEvent: () => undefined });
  return {
    async close() {
      stop();
      await c[Symbol.asyncDispose]();
    },
  };
}

describe('usePresence', () => {
  test('two components share one server subscription; joins, connection counts and leaves show; unmounting ends it', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'viewer', investigations: ['inv-w'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['a', 'b']));
    await shows(seen, 'a', '');
    expect(srv.server.stats().subscriptions).toBe(1);
    expect(c.client.presence.size).toBe(1);

    const ana1 = await tabOf(srv, 'ana');
    const ana2 = await tabOf(srv, 'ana');
    await shows(seen, 'a', 'anax2');
    await shows(seen, 'b', 'anax2');
    expect(seen.get('a')).toBe(seen.get('b'));
    const bruno = await tabOf(srv, 'bruno');
    await shows(seen, 'a', 'anax2,brunox1');
    expect(seen.get('a')!.total).toBe(2);
    await ana1.close();
    await shows(seen, 'a', 'anax1,brunox1');
    await ana2.close();
    await shows(seen, 'a', 'brunox1');
    expect(page.container.textContent).toContain('a: live 1 brunox1');

    page.unmount();
    await waitFor(
      () => srv.server.stats().presence.watchers,
      (n) => n === 0,
      'the presence subscription to end',
    );
    expect(c.client.presence.size).toBe(0);
    await bruno.close();
  });

  test('after a dropped connection the list starts again from the server’s state', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'viewer', investigations: ['inv-w'] });
    const socket = droppableWebSocket();
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token, WebSocket: socket.WebSocket });
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['a']));
    await shows(seen, 'a', '');
    const ana = await tabOf(srv, 'ana');
    await shows(seen, 'a', 'anax1');
    socket.drop();
    await ana.close();
    const carla = await tabOf(srv, 'carla');
    await shows(seen, 'a', 'carlax1');
    page.unmount();
    await carla.close();
  });

  test('no grant: status error with FORBIDDEN not_granted; null subscribes to nothing', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'viewer', investigations: ['inv-other'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });
    const seen: Seen = new Map();
    const page = await mount(app(c.client, seen, ['a']));
    const refused = await waitFor(
      () => seen.get('a'),
      (p) => p?.status === 'error',
      'the refusal',
    );
    expect(refused!.error?.data).toMatchObject({ code: 'FORBIDDEN', reason: 'not_granted' });
    page.render(app(c.client, seen, ['a'], null));
    await waitFor(
      () => seen.get('a')?.status,
      (s) => s === 'idle',
      'idle',
    );
    // The refused topic is released once nobody reads it (the hook's cleanup runs after the render).
    await waitFor(
      () => c.client.presence.size,
      (size) => size === 0,
      'no presence topic held',
    );
    page.unmount();
  });
});
