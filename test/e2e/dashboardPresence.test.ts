import { expect, test } from 'vitest';
import { describeWithChromium } from '../support/browser';
import { openSignedIn, useDashboardBrowser } from '../support/dashboardPage';
import { startServer, type TestServer } from '../support/server';

const INV = 'inv-presence';
/** Each user's own chat session (a made-up id belongs to its first user). */
const watch = (sub: string) => ({ investigation: INV, analysis: 'an-presence', session: `chat-presence-${sub}` });
const claims = (sub: string) => ({ sub, roles: ['user'], investigations: [INV], analyses: ['an-presence'] });

/** A member's chip in the "Watching now" list. */
function member(page: Awaited<ReturnType<typeof openSignedIn>>, userId: string, connections: number) {
  return page.locator(`[data-testid="presence-member"][data-user="${userId}"][data-connections="${connections}"]`);
}

describeWithChromium('the dashboard’s “Watching now” list, in headless Chromium', () => {
  const env = useDashboardBrowser();

  function startDashboardServer(): Promise<TestServer> {
    return startServer({ serveDashboard: true, dashboard: { dir: env.dashboardDir } });
  }

  test('shows who watches the investigation, with their tabs, and who left', async () => {
    await using srv = await startDashboardServer();
    await using alice = await openSignedIn(env.browser, srv, { watch: watch('alice'), claims: claims('alice'), subscriptions: 5 });
    // The page's own user is a member: it watches the investigation.
    await member(alice, 'alice', 1).waitFor();
    expect(await alice.getByTestId('presence-member').count()).toBe(1);

    // Bob opens the dashboard in two tabs: one member, two connections.
    await using bob1 = await openSignedIn(env.browser, srv, { watch: watch('bob'), claims: claims('bob'), subscriptions: 10 });
    await using bob2 = await openSignedIn(env.browser, srv, { watch: watch('bob'), claims: claims('bob'), subscriptions: 15 });
    await member(alice, 'bob', 2).waitFor();
    await alice.locator('[data-testid="presence-panel"][data-total="2"]').waitFor();
    await member(bob1, 'alice', 1).waitFor();

    await bob2[Symbol.asyncDispose]();
    await member(alice, 'bob', 1).waitFor();
    await bob1[Symbol.asyncDispose]();
    await alice.locator('[data-testid="presence-panel"][data-total="1"]').waitFor();
    expect(await alice.locator('[data-testid="presence-member"][data-user="bob"]').count()).toBe(0);
    expect(alice.pageErrors).toEqual([]);
  });
});
