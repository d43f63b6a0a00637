import { access, copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { createBuiltinAgent } from '../../server/chat/builtinAgent';
import type { ChatAgent } from '../../server/chat/chatAgent';
import { issueToken } from '../../server/index';
import type { NotifyAnomalyInput } from '../../shared/inputs';
import { describeWithChromium, openPage, saveScreenshot, signIn, type TestPage, waitForConnection } from '../support/browser';
import { openSignedIn, useDashboardBrowser } from '../support/dashboardPage';
import { startServer, TEST_SECRET, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';

const INV = 'inv-e2e';
const AN = 'an-e2e';
const SESSION = 'chat-e2e';
const WATCH = { investigation: INV, analysis: AN, session: SESSION };
const aliceClaims = { sub: 'alice', roles: ['user'], investigations: [INV], analyses: [AN] };
/** The investigation, the analysis, the chat session and the user's notifications. */
const PAGE_SUBSCRIPTIONS = 4;

describeWithChromium('the live dashboard in headless Chromium', () => {
  const env = useDashboardBrowser();

  function startDashboardServer(opts: Parameters<typeof startServer>[0] = {}) {
    return startServer({ ...opts, serveDashboard: true, dashboard: { dir: env.dashboardDir, ...opts.dashboard } });
  }

  /** Opens the dashboard on our ids, signs in as alice and waits until all four subscriptions run on the server. */
  function openAliceDashboard(srv: TestServer): Promise<TestPage> {
    return openSignedIn(env.browser, srv, { watch: WATCH, claims: aliceClaims, subscriptions: PAGE_SUBSCRIPTIONS });
  }

  async function publisher(srv: TestServer) {
    return srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));
  }

  test('signs in with a pasted token: one connection, its four subscriptions, the user shown', async () => {
    await using srv = await startDashboardServer();
    await using page = await openPage(env.browser);
    await page.goto(`${srv.address.httpUrl}/?${new URLSearchParams(WATCH)}`);

    // No dev token outside development mode: the field starts empty.
    await page.getByTestId('signin-form').waitFor();
    expect(await page.getByTestId('token-input').inputValue()).toBe('');
    expect(srv.server.stats().connections).toBe(0);

    await signIn(page, await srv.token(aliceClaims));
    await waitForConnection(page, 'open');
    expect(await page.getByTestId('user-id').textContent()).toBe('alice');
    const stats = await waitFor(
      () => srv.server.stats(),
      (s) => s.subscriptions === PAGE_SUBSCRIPTIONS,
      'the page to subscribe',
    );
    expect(stats.connections).toBe(1);
    expect(stats.users).toBe(1);
    expect(page.pageErrors).toEqual([]);
  });

  test('a token the server refuses sends the user back to the sign-in form, saying why', async () => {
    await using srv = await startDashboardServer();
    await using page = await openPage(env.browser);
    await page.goto(srv.address.httpUrl);
    const forged = await issueToken('another-secret-that-is-at-least-32-chars', aliceClaims, { expiresInSeconds: 600 });

    await signIn(page, forged);
    const notice = page.getByTestId('signin-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('refused the token');
    await waitFor(
      () => srv.server.stats().connections,
      (n) => n === 0,
      'the refused connection to be gone',
    );
  });

  test('in development mode the form is pre-filled with the dev token, which connects', async () => {
    const devToken = () =>
      issueToken(TEST_SECRET, { sub: 'dev-user', roles: ['user'], investigations: ['*'], analyses: ['*'] }, { expiresInSeconds: 600 });
    await using srv = await startDashboardServer({ dashboard: { devToken } });
    await using page = await openPage(env.browser);
    await page.goto(srv.address.httpUrl);

    await page.getByTestId('dev-token-hint').waitFor();
    expect(await page.getByTestId('token-input').inputValue()).toMatch(/^eyJ/);
    await page.getByTestId('connect-button').click();
    await waitForConnection(page, 'open');
    expect(await page.getByTestId('user-id').textContent()).toBe('dev-user');
  });

  test('investigation updates published over HTTP appear on the page: status, progress, finding, report', async () => {
    await using srv = await startDashboardServer();
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);

    await backend.investigation.notifyUpdate.mutate({ investigationId: INV, updateType: 'status', data: { status: 'running' } });
    await backend.investigation.notifyUpdate.mutate({
      investigationId: INV,
      updateType: 'progress',
      data: { progress: 40, stage: 'fetching contracts' },
    });
    await backend.investigation.notifyUpdate.mutate({
      investigationId: INV,
      updateType: 'agent_finding',
      data: { agent: 'Zumbi', finding: 'Unit price 3.4x the national median' },
    });
    await backend.investigation.notifyUpdate.mutate({
      investigationId: INV,
      updateType: 'report_status',
      data: { status: 'ready', url: 'https://example.org/r/1' },
    });

    await page.locator('[data-testid="report-status"][data-status="ready"]').waitFor();
    expect(await page.getByTestId('investigation-status').getAttribute('data-status')).toBe('running');
    expect(await page.getByTestId('investigation-progress').getAttribute('aria-valuenow')).toBe('40');
    expect(await page.getByTestId('investigation-progress-text').textContent()).toBe('40%');
    expect(await page.getByTestId('investigation-stage').textContent()).toBe('fetching contracts');
    expect(await page.getByTestId('finding').allTextContents()).toEqual([expect.stringContaining('Unit price 3.4x the national median')]);
    expect(await page.getByTestId('timeline-event').count()).toBe(4);
    expect(page.pageErrors).toEqual([]);
  });

  test('a critical anomaly is shown as critical: red badge, alert role, counted apart from a low one', async () => {
    await using srv = await startDashboardServer();
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);

    await reportAnomaly(backend, { severity: 'low', description: 'Rounded amounts', contractId: 'CT-1', confidence: 0.4 });
    await reportAnomaly(backend, {
      severity: 'critical',
      description: 'Price 340% above the reference',
      contractId: 'CT-2',
      confidence: 0.94,
    });

    const critical = page.locator('[data-testid="anomaly-alert"][data-severity="critical"]');
    await critical.waitFor();
    const low = page.locator('[data-testid="anomaly-alert"][data-severity="low"]');
    await low.waitFor();
    expect(await critical.textContent()).toContain('Price 340% above the reference');
    expect(await critical.getAttribute('role')).toBe('alert');
    expect(await low.getAttribute('role')).toBeNull();

    const badge = critical.getByTestId('severity-badge');
    expect(await badge.textContent()).toContain('CRITICAL');
    const background = (el: HTMLElement | SVGElement) => getComputedStyle(el).backgroundColor;
    expect(await badge.evaluate(background)).toBe('rgb(200, 30, 30)');
    expect(await low.getByTestId('severity-badge').evaluate(background)).not.toBe('rgb(200, 30, 30)');
    // Newest first: the critical alert heads the list.
    expect(await page.getByTestId('anomaly-alert').first().getAttribute('data-severity')).toBe('critical');
  });

  test("the assistant's reply streams in: part of it is on the page before the whole message", async () => {
    // The built-in assistant, held after its first chunk until the page has shown
    // that chunk: the partial reply is then observed for certain, not by luck of timing.
    const builtin = createBuiltinAgent({ chunkDelayMs: 0 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const chatAgent: ChatAgent = {
      async *reply(request) {
        let first = true;
        for await (const chunk of builtin.reply(request)) {
          yield chunk;
          if (first) {
            first = false;
            // A server closing mid-test aborts the reply; it must not wait for a release that never comes.
            await Promise.race([held, new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }))]);
          }
        }
      },
    };
    await using srv = await startDashboardServer({ chatAgent });
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);
    await backend.investigation.notifyUpdate.mutate({ investigationId: INV, updateType: 'status', data: { status: 'running' } });
    await page.locator('[data-testid="investigation-status"][data-status="running"]').waitFor();
    // The page makes its chat session watch the investigation it shows.
    await waitFor(
      () => srv.server.stats().chat.watchedInvestigations,
      (n) => n === 1,
      'the session to watch the investigation',
    );

    await page.getByTestId('chat-input').fill(`How is ${INV} going?`);
    await page.getByTestId('chat-send').click();

    const streaming = page.locator('[data-testid="chat-streaming"][data-streaming="true"]');
    await page.waitForFunction(() => (document.querySelector('[data-testid="chat-streaming-text"]')?.textContent ?? '').length > 0);
    const partial = await streaming.getByTestId('chat-streaming-text').textContent();
    expect(await page.locator('[data-testid="chat-message"][data-role="assistant"]').count()).toBe(0);
    expect(await page.locator('[data-testid="chat-message"][data-role="user"]').textContent()).toContain(`How is ${INV} going?`);

    release();
    const reply = page.locator('[data-testid="chat-message"][data-role="assistant"]');
    await reply.waitFor();
    const final = (await reply.locator('.bubble-text').textContent())!;
    expect(partial!.length).toBeGreaterThan(0);
    expect(final.length).toBeGreaterThan(partial!.length);
    expect(final.startsWith(partial!)).toBe(true);
    // Answered from the live state the server saw, not a canned text.
    expect(final).toContain(`Investigation ${INV} is running`);
    expect(await streaming.count()).toBe(0);
  });

  test('a notification sent to the user appears with its level and an unread count', async () => {
    await using srv = await startDashboardServer();
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);

    await backend.notification.send.mutate({
      userIds: ['alice'],
      title: 'Critical anomaly',
      body: 'CT-2 is 340% above the reference',
      level: 'critical',
    });
    await backend.notification.send.mutate({ userIds: ['someone-else'], title: 'Not for alice', body: 'x', level: 'info' });
    await backend.notification.send.mutate({
      userIds: ['alice'],
      title: 'Report ready',
      body: 'The report of inv-e2e is ready',
      level: 'info',
    });

    await page.locator('[data-testid="notification-count"][data-count="2"]').waitFor();
    const items = page.getByTestId('notification');
    expect(
      await items.evaluateAll((els) => els.map((el) => [el.getAttribute('data-level'), el.querySelector('strong')?.textContent])),
    ).toEqual([
      ['info', 'Report ready'],
      ['critical', 'Critical anomaly'],
    ]);
  });

  test('an analysis shows its status, progress, partial results and error', async () => {
    await using srv = await startDashboardServer();
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);

    await backend.analysis.notifyUpdate.mutate({ analysisId: AN, updateType: 'status', data: { status: 'running', progress: 30 } });
    await backend.analysis.notifyUpdate.mutate({
      analysisId: AN,
      updateType: 'partial_result',
      data: { result: { supplier: 'Acme', total: 1200 }, sequence: 1 },
    });
    await backend.analysis.notifyUpdate.mutate({
      analysisId: AN,
      updateType: 'error',
      data: { code: 'SOURCE_DOWN', message: 'the spending API did not answer' },
    });

    await page.getByTestId('analysis-failure').waitFor();
    expect(await page.getByTestId('analysis-failure').textContent()).toContain('SOURCE_DOWN');
    expect(await page.getByTestId('analysis-status').getAttribute('data-status')).toBe('running');
    expect(await page.getByTestId('analysis-progress').getAttribute('aria-valuenow')).toBe('30');
    expect(await page.getByTestId('analysis-result').allTextContents()).toEqual([expect.stringContaining('supplier: Acme · total: 1200')]);
  });

  test('a screenshot of the dashboard with live data (test-artifacts/dashboard.png)', async () => {
    await using srv = await startDashboardServer();
    await using page = await openAliceDashboard(srv);
    const backend = await publisher(srv);
    await publishShowcase(backend);

    await page.getByTestId('chat-input').fill('What is the status, and are there critical anomalies?');
    await page.getByTestId('chat-send').click();
    await page.locator('[data-testid="chat-message"][data-role="assistant"]').waitFor();
    await page.locator('[data-testid="notification-count"][data-count="2"]').waitFor();
    await page.locator('[data-testid="analysis-result"]').nth(1).waitFor();
    await page.locator('[data-testid="report-status"][data-status="generating"]').waitFor();
    expect(await page.getByTestId('anomaly-alert').count()).toBe(3);
    // Move the pointer and the focus away so the picture shows the page at rest.
    await page.mouse.move(0, 0);
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });

    const path = await saveScreenshot(page, 'dashboard.png');
    await access(path);
    // The README's picture is refreshed on request only, so a test run leaves the work tree clean.
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      const docs = fileURLToPath(new URL('../../docs/', import.meta.url));
      await mkdir(docs, { recursive: true });
      await copyFile(path, `${docs}dashboard.png`);
    }
    expect(page.pageErrors).toEqual([]);
  });
});

type Backend = Awaited<ReturnType<TestServer['httpClient']>>;

/** An anomaly on the page's investigation, published over HTTP as a backend would. */
function reportAnomaly(backend: Backend, anomaly: NotifyAnomalyInput['anomaly']) {
  return backend.investigation.notifyAnomaly.mutate({ investigationId: INV, anomaly });
}

/** A realistic investigation in progress, for the screenshot. */
async function publishShowcase(backend: Backend) {
  const update = backend.investigation.notifyUpdate.mutate;
  await update({
    investigationId: INV,
    updateType: 'status',
    data: { status: 'running', message: 'Cross-checking 1,284 contracts of the Ministry of Health, 2024' },
  });
  await update({ investigationId: INV, updateType: 'progress', data: { progress: 35, stage: 'fetching contracts' } });
  await update({
    investigationId: INV,
    updateType: 'agent_finding',
    data: { agent: 'Zumbi', finding: 'Unit price of surgical masks 3.4x the national median' },
  });
  await reportAnomaly(backend, {
    severity: 'medium',
    description: 'Contract amended 6 times within 90 days',
    contractId: 'CT-2024-0193',
    confidence: 0.71,
  });
  await update({ investigationId: INV, updateType: 'progress', data: { progress: 64, stage: 'comparing unit prices' } });
  await update({
    investigationId: INV,
    updateType: 'agent_finding',
    data: { agent: 'Anita', finding: 'One supplier won 14 of the 15 tenders in the period' },
  });
  await reportAnomaly(backend, {
    severity: 'high',
    description: 'Supplier registered 12 days before the tender',
    contractId: 'CT-2024-0311',
    confidence: 0.83,
  });
  await reportAnomaly(backend, {
    severity: 'critical',
    description: 'Price 340% above the reference for identical items',
    contractId: 'CT-2024-0457',
    confidence: 0.94,
  });
  await update({ investigationId: INV, updateType: 'report_status', data: { status: 'generating' } });
  await backend.analysis.notifyUpdate.mutate({ analysisId: AN, updateType: 'status', data: { status: 'running', progress: 55 } });
  await backend.analysis.notifyUpdate.mutate({
    analysisId: AN,
    updateType: 'partial_result',
    data: { result: { region: 'North', contracts: 212, overprice: 'R$ 1.2 mi' }, sequence: 1 },
  });
  await backend.analysis.notifyUpdate.mutate({
    analysisId: AN,
    updateType: 'partial_result',
    data: { result: { region: 'Northeast', contracts: 388, overprice: 'R$ 3.9 mi' }, sequence: 2 },
  });
  await backend.notification.send.mutate({
    userIds: ['alice'],
    title: 'Report queued',
    body: `The report of ${INV} is being generated`,
    level: 'info',
  });
  await backend.notification.send.mutate({
    userIds: ['alice'],
    title: 'Critical anomaly',
    body: `${INV}: price 340% above the reference in CT-2024-0457`,
    level: 'critical',
  });
}
