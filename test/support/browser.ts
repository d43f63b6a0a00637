import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describe } from 'vitest';
import { missingForTests } from './tools';
import { WAIT_MS } from './wait';

/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` (apt-get
 * install chromium; .ci/run does it), driven by playwright-core. Playwright's
 * own browser download cannot work here, so it is never used.
 */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumAvailable = existsSync(CHROMIUM_PATH);

if (!chromiumAvailable) {
  missingForTests(
    `Chromium is not installed at ${CHROMIUM_PATH}: the end-to-end dashboard tests cannot run.`,
    'Install it with: apt-get update && apt-get install -y chromium',
  );
}

/** `describe` when Chromium is there, a loud skip when it is not (and a failure under CI). */
export const describeWithChromium = describe.skipIf(!chromiumAvailable);

/** Where tests leave what a person may want to look at (screenshots); gitignored. */
const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const DOCS_DIR = fileURLToPath(new URL('../../docs/', import.meta.url));

// Without the background-networking flags Chromium keeps dialing Google's hosts,
// which this machine's closed network refuses. Playwright gives every launch a
// fresh, empty profile (its own --user-data-dir) and removes it on close.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: chromiumArgs, timeout: WAIT_MS * 2 });
  return Object.assign(browser, {
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  });
}

/**
 * A page (a laptop's size unless told) that records what went wrong inside it: uncaught
 * errors and Content-Security-Policy violations fail the test that reads them.
 */
export async function openPage(browser: Browser, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
  });
  return Object.assign(page, {
    pageErrors,
    async [Symbol.asyncDispose]() {
      await context.close();
    },
  });
}

export type TestPage = Awaited<ReturnType<typeof openPage>>;

/** Pastes the token into the sign-in form and connects. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('connect-button').click();
}

/** Waits until the connection badge shows `state` (the SDK's ConnectionState status). */
export async function waitForConnection(page: Page, state: 'connecting' | 'open' | 'reconnecting' | 'closed'): Promise<void> {
  await page.locator(`[data-testid="connection-state"][data-state="${state}"]`).waitFor();
}

/**
 * A full-page screenshot into test-artifacts/. With `docsName` and
 * UPDATE_DOCS_SCREENSHOT=1 it is also copied to docs/ (the README's pictures
 * are refreshed on request only, so a test run leaves the work tree clean).
 */
export async function saveScreenshot(page: Page, file: string, docsName?: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, file);
  await page.screenshot({ path, fullPage: true });
  if (docsName && process.env.UPDATE_DOCS_SCREENSHOT === '1') {
    await mkdir(DOCS_DIR, { recursive: true });
    await copyFile(path, join(DOCS_DIR, docsName));
  }
  return path;
}
