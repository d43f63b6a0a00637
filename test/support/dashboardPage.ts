import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildDashboard, launchChromium, openPage, signIn, type TestPage, waitForConnection } from './browser';
import type { TestServer } from './server';
import { waitFor } from './wait';

/**
 * Builds the dashboard and launches Chromium once for the enclosing `describe`
 * (call it there), closing both after its tests. Read the fields inside tests only.
 */
export function useDashboardBrowser(): { readonly browser: Browser; readonly dashboardDir: string } {
  let dashboard: Awaited<ReturnType<typeof buildDashboard>> | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

  beforeAll(async () => {
    dashboard = await buildDashboard();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.[Symbol.asyncDispose]();
  });

  return {
    get browser() {
      if (!browser) throw new Error('Chromium is launched in beforeAll: read `browser` inside a test');
      return browser;
    },
    get dashboardDir() {
      if (!dashboard) throw new Error('the dashboard is built in beforeAll: read `dashboardDir` inside a test');
      return dashboard.dir;
    },
  };
}

/**
 * Opens the dashboard of `srv` watching `watch`, signs in with a token for
 * `claims` and waits until the page's `subscriptions` run on the server.
 */
export async function openSignedIn(
  browser: Browser,
  srv: TestServer,
  opts: {
    watch: { investigation: string; analysis: string; session: string };
    claims: Parameters<TestServer['token']>[0];
    subscriptions: number;
  },
): Promise<TestPage> {
  const page = await openPage(browser);
  await page.goto(`${srv.address.httpUrl}/?${new URLSearchParams(opts.watch)}`);
  await signIn(page, await srv.token(opts.claims));
  await waitForConnection(page, 'open');
  await waitFor(
    () => srv.server.stats().subscriptions,
    (n) => n === opts.subscriptions,
    'the page to subscribe',
  );
  return page;
}
