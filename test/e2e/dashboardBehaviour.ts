import { expect, test } from 'vitest';
import { createBuiltinAgent } from '../../server/chat/builtinAgent';
import type { ChatAgent } from '../../server/chat/chatAgent';
import { issueToken } from '../../server/index';
import type { NotifyAnomalyInput } from '../../shared/inputs';
import { describeWithChromium, openPage, signIn, type TestPage, waitForConnection } from '../support/browser';
import { openSignedIn, useDashboardBrowser } from '../support/dashboardPage';
import { rejectionOf } from '../support/errors';
import { startServer, TEST_SECRET, type TestServer } from '../support/server';
import { waitFor } from '../support/wait';

const INV = 'inv-e2e';
const AN = 'an-e2e';
const SESSION = 'chat-e2e';
const WATCH = { investigation: INV, analysis: AN, session: SESSION };
const aliceClaims = { sub: 'alice', roles: ['user'], investigations: [INV], analyses: [AN] };
/** The investigation, its presence ("Watching now"), the analysis, the chat session and the user's notifications. */
const PAGE_SUBSCRIPTIONS = 5;

/**
 * Every behaviour of the live dashboard, on one screen size. Run on a laptop
 * and on a phone (dashboardLaptop.test.ts, dashboardPhone.test.ts: two files,
 * so vitest runs them side by side): the layouts differ, what they show must not.
 */
export function describeDashboard(screen: string, viewport: { width: number; height: number }) {
  describeWithChromium(`the live dashboard in headless Chromium, on ${screen}`, () => {
    const env = useDashboardBrowser();

    function startDashboardServer(opts: Parameters<typeof startServer>[0] = {}) {
      return startServer({ ...opts, serveDashboard: true, dashboard: { dir: env.dashboardDir, ...opts.dashboard } });
    }

    /** Opens the dashboard on our ids, signs in as alice and waits until all its subscriptions run on the server. */
    function openAliceDashboard(srv: TestServer): Promise<TestPage> {
      return openSignedIn(env.browser, srv, { watch: WATCH, claims: aliceClaims, subscriptions: PAGE_SUBSCRIPTIONS, viewport });
    }

    async function publisher(srv: TestServer) {
      return srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] }));
    }

    test('signs in with a pasted token: one connection, its five subscriptions, the user shown', async () => {
      await using srv = await startDashboardServer();
      await using page = await openPage(env.browser, viewport);
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
      await using page = await openPage(env.browser, viewport);
      await page.goto(srv.address.httpUrl);
      const forged = await issueToken('another-secret-that-is-at-least-32-chars', aliceClaims, { expiresInSeconds: 600 });

      await signIn(page, forged);
      const notice = page.getByTestId('signin-notice');
      await notice.waitFor();
      // The user's words, not the SDK's close reason (`token_rejected: getToken returned…`).
      expect(await notice.textContent()).toBe('The server refused this token (invalid or expired). Paste a new one.');
      const shown = await page.locator('body').textContent();
      expect(shown).not.toContain('token_rejected');
      expect(shown).not.toContain('getToken');
      await waitFor(
        () => srv.server.stats().connections,
        (n) => n === 0,
        'the refused connection to be gone',
      );
    });

    test("a refused or signed-out user's chat session leaves the address bar: the next user gets their own", async () => {
      await using srv = await startDashboardServer();
      await using page = await openPage(env.browser, viewport);
      // A link carrying alice's chat session, and a token of alice's that has expired.
      await page.goto(`${srv.address.httpUrl}/?${new URLSearchParams(WATCH)}`);
      const expired = await issueToken(TEST_SECRET, aliceClaims, { expiresAt: Math.floor(Date.now() / 1000) - 60 });

      await signIn(page, expired);
      await page.getByTestId('signin-notice').waitFor();
      expect(await page.getByTestId('signin-notice').textContent()).toBe('This token has expired. Paste a new one.');
      const afterRefusal = new URL(page.url()).searchParams;
      expect(afterRefusal.get('session')).toBeNull();
      // What the link points at stays for whoever signs in next.
      expect(afterRefusal.get('investigation')).toBe(INV);
      expect(afterRefusal.get('analysis')).toBe(AN);

      const bobToken = await srv.token({ sub: 'bob', roles: ['user'], investigations: [INV], analyses: [AN] });
      await signIn(page, bobToken);
      await waitForConnection(page, 'open');
      expect(await page.getByTestId('user-id').textContent()).toBe('bob');
      // A session of bob's own, made by chat.createSession: shown, and written to the address.
      const created = await waitFor(
        () => page.getByTestId('watch-session').inputValue(),
        (value) => value !== '',
        "the page to create bob's chat session",
      );
      expect(created).toMatch(/^s_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{22}$/);
      expect(await page.getByTestId('chat-panel').locator('.entity-id').textContent()).toBe(created);
      expect(new URL(page.url()).searchParams.get('session')).toBe(created);
      // It is bob's: alice, who had the link, is refused it.
      const alice = srv.wsClient({ token: await srv.token(aliceClaims) }).client;
      expect(await rejectionOf(() => alice.chat.send.mutate({ sessionId: created, content: 'let me in' }))).toEqual({
        code: 'FORBIDDEN',
        reason: 'session_owned_by_other',
      });

      // Signing out forgets bob's session the same way.
      await page.getByTestId('sign-out').click();
      await page.getByTestId('signin-form').waitFor();
      expect(new URL(page.url()).searchParams.get('session')).toBeNull();

      // Signing in again, bob finds his conversation: the page remembered which session it created for him.
      await signIn(page, bobToken);
      await waitForConnection(page, 'open');
      expect(await page.getByTestId('watch-session').inputValue()).toBe(created);
      expect(new URL(page.url()).searchParams.get('session')).toBe(created);
      expect(page.pageErrors).toEqual([]);
    });

    test("a remembered chat session the server does not take for the user's is replaced by a new one of theirs", async () => {
      await using srv = await startDashboardServer();
      await using page = await openPage(env.browser, viewport);
      // What the page remembered for bob names someone else (as after the key that signed it was retired).
      const alice = srv.wsClient({ token: await srv.token(aliceClaims) }).client;
      const { sessionId: notBobs } = await alice.chat.createSession.mutate({});
      await page.goto(`${srv.address.httpUrl}/?${new URLSearchParams({ investigation: INV, analysis: AN })}`);
      await page.evaluate((id) => localStorage.setItem('cidadao-realtime:chat-session:bob', id), notBobs);

      await signIn(page, await srv.token({ sub: 'bob', roles: ['user'], investigations: [INV], analyses: [AN] }));
      await waitForConnection(page, 'open');
      const replaced = await waitFor(
        () => page.getByTestId('watch-session').inputValue(),
        (value) => value !== notBobs && value !== '',
        'a session of bob’s own',
      );
      expect(replaced).toMatch(/^s_/);
      expect(new URL(page.url()).searchParams.get('session')).toBe(replaced);
      expect(await page.evaluate(() => localStorage.getItem('cidadao-realtime:chat-session:bob'))).toBe(replaced);
      // The chat works in it: bob's message is on the page.
      await page.getByTestId('chat-input').fill('is this mine?');
      await page.getByTestId('chat-send').click();
      await page.locator('[data-testid="chat-message"][data-role="user"]').waitFor();
      expect(page.pageErrors).toEqual([]);
    });

    test('in development mode the form is pre-filled with the dev token, which connects', async () => {
      const devToken = () =>
        issueToken(TEST_SECRET, { sub: 'dev-user', roles: ['user'], investigations: ['*'], analyses: ['*'] }, { expiresInSeconds: 600 });
      await using srv = await startDashboardServer({ dashboard: { devToken } });
      await using page = await openPage(env.browser, viewport);
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

    test('a progress update without a stage shows its percentage, with the last stage if there was one', async () => {
      await using srv = await startDashboardServer();
      await using page = await openAliceDashboard(srv);
      const backend = await publisher(srv);
      const progress = (value: number, stage?: string) =>
        backend.investigation.notifyUpdate.mutate({ investigationId: INV, updateType: 'progress', data: { progress: value, stage } });
      const stage = page.getByTestId('investigation-stage');

      // Before any progress update (a status update is not one).
      await backend.investigation.notifyUpdate.mutate({ investigationId: INV, updateType: 'status', data: { status: 'running' } });
      await page.locator('[data-testid="investigation-status"][data-status="running"]').waitFor();
      expect(await page.getByTestId('investigation-progress-text').textContent()).toBe('—');
      expect(await stage.textContent()).toBe('waiting for the first progress update');

      await progress(4);
      await page.locator('[data-testid="investigation-progress"][data-value="4"]').waitFor();
      expect(await page.getByTestId('investigation-progress-text').textContent()).toBe('4%');
      expect(await stage.textContent()).toBe('');

      await progress(30, 'fetching contracts');
      await progress(45);
      await page.locator('[data-testid="investigation-progress"][data-value="45"]').waitFor();
      expect(await page.getByTestId('investigation-progress-text').textContent()).toBe('45%');
      expect(await stage.textContent()).toBe('fetching contracts');
    });

    test('anomaly alerts are ordered by severity, then newest first', async () => {
      await using srv = await startDashboardServer();
      await using page = await openAliceDashboard(srv);
      const backend = await publisher(srv);

      await reportAnomaly(backend, { severity: 'critical', description: 'First critical', contractId: 'CT-1', confidence: 0.9 });
      await reportAnomaly(backend, { severity: 'high', description: 'A high one', contractId: 'CT-2', confidence: 0.8 });
      await reportAnomaly(backend, { severity: 'medium', description: 'A medium one', contractId: 'CT-3', confidence: 0.7 });
      await reportAnomaly(backend, { severity: 'critical', description: 'Second critical', contractId: 'CT-4', confidence: 0.95 });

      await page.getByTestId('anomaly-alert').nth(3).waitFor();
      const shown = await page
        .getByTestId('anomaly-alert')
        .evaluateAll((els) => els.map((el) => [el.getAttribute('data-severity'), el.querySelector('.alert-contract')?.textContent]));
      expect(shown).toEqual([
        ['critical', 'Contract CT-4'],
        ['critical', 'Contract CT-1'],
        ['high', 'Contract CT-2'],
        ['medium', 'Contract CT-3'],
      ]);
      // The counts in the header follow the same order.
      expect(await page.locator('.severity-counts .count').allTextContents()).toEqual(['2 critical', '1 high', '1 medium']);
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
      // By severity: the critical alert heads the list although the low one is older.
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

    test('an analysis shows its status, progress and partial results; an error makes it failed, not running', async () => {
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

      const failure = page.getByTestId('analysis-failure');
      await failure.waitFor();
      await page.locator('[data-testid="analysis-status"][data-status="failed"]').waitFor();
      expect(await page.getByTestId('analysis-status').textContent()).toBe('Failed');
      expect(await failure.getAttribute('role')).toBe('alert');
      expect(await failure.textContent()).toContain('Analysis failed');
      expect(await failure.textContent()).toContain('SOURCE_DOWN');
      expect(await failure.textContent()).toContain('the spending API did not answer');
      expect(await page.getByTestId('analysis-panel').textContent()).not.toMatch(/running/i);
      expect(await page.getByTestId('analysis-progress').getAttribute('aria-valuenow')).toBe('30');
      expect(await page.getByTestId('analysis-result').allTextContents()).toEqual([
        expect.stringContaining('supplier: Acme · total: 1200'),
      ]);

      // A later status update overrides the failure (an error still shown is an earlier one).
      await backend.analysis.notifyUpdate.mutate({ analysisId: AN, updateType: 'status', data: { status: 'running', progress: 40 } });
      await page.locator('[data-testid="analysis-status"][data-status="running"]').waitFor();
      expect(await page.getByTestId('analysis-panel').textContent()).not.toContain('Analysis failed');
    });
  });
}

type Backend = Awaited<ReturnType<TestServer['httpClient']>>;

/** An anomaly on the page's investigation, published over HTTP as a backend would. */
function reportAnomaly(backend: Backend, anomaly: NotifyAnomalyInput['anomaly']) {
  return backend.investigation.notifyAnomaly.mutate({ investigationId: INV, anomaly });
}
