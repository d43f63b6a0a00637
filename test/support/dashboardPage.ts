import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import { launchChromium, openPage, signIn, type TestPage, waitForConnection } from './browser';
import type { TestServer } from './server';
import { waitFor } from './wait';

/**
 * Launches Chromium once for the enclosing `describe` (call it there) and
 * closes it after its tests; the dashboard itself is built once per run by
 * test/support/globalSetup.ts. Read `browser` inside tests only.
 */
export function useDashboardBrowser(): { readonly browser: Browser; readonly dashboardDir: string } {
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const dashboardDir = inject('dashboardDir');

  beforeAll(async () => {
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  return {
    get browser() {
      if (!browser) throw new Error('Chromium is launched in beforeAll: read `browser` inside a test');
      return browser;
    },
    dashboardDir,
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
    viewport?: { width: number; height: number };
  },
): Promise<TestPage> {
  const page = await openPage(browser, opts.viewport);
  try {
    await page.goto(`${srv.address.httpUrl}/?${new URLSearchParams(opts.watch)}`);
    await signIn(page, await srv.token(opts.claims));
    await waitForConnection(page, 'open');
    await waitFor(
      () => srv.server.stats().subscriptions,
      (n) => n === opts.subscriptions,
      'the page to subscribe',
    );
    return page;
  } catch (err) {
    // The caller never gets the page to dispose of.
    await page[Symbol.asyncDispose]();
    throw err;
  }
}
