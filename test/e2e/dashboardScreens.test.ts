import { expect, test } from 'vitest';
import type { NotifyAnomalyInput } from '../../shared/inputs';
import { describeWithChromium, saveScreenshot, type TestPage } from '../support/browser';
import { openSignedIn, useDashboardBrowser } from '../support/dashboardPage';
import { startServer, type TestServer } from '../support/server';

const INV = 'inv-e2e';
const AN = 'an-e2e';
const WATCH = { investigation: INV, analysis: AN, session: 'chat-e2e' };
const aliceClaims = { sub: 'alice', roles: ['user'], investigations: [INV], analyses: [AN] };

const laptop = { width: 1440, height: 900 };
const phone = { width: 390, height: 844 };

/**
 * The dashboard at a laptop's and a phone's width with live data in every
 * panel. Each run leaves test-artifacts/dashboard.png and dashboard-390.png;
 * UPDATE_DOCS_SCREENSHOT=1 also refreshes the README's copies in docs/.
 */
describeWithChromium('the dashboard on every screen', () => {
  const env = useDashboardBrowser();

  /** A page signed in as alice at `viewport`, every panel filled with live data. */
  async function openShowcase(srv: TestServer, viewport: { width: number; height: number }): Promise<TestPage> {
    const page = await openSignedIn(env.browser, srv, { watch: WATCH, claims: aliceClaims, subscriptions: 5, viewport });
    await publishShowcase(srv.httpClient(await srv.token({ sub: 'backend', roles: ['service'] })));
    await page.getByTestId('chat-input').fill('What is the status, and are there critical anomalies?');
    await page.getByTestId('chat-send').click();
    await page.locator('[data-testid="chat-message"][data-role="assistant"]').waitFor();
    await page.locator('[data-testid="notification-count"][data-count="2"]').waitFor();
    await page.locator('[data-testid="analysis-result"]').nth(1).waitFor();
    await page.locator('[data-testid="report-status"][data-status="generating"]').waitFor();
    await page.getByTestId('finding').nth(2).waitFor();
    await page.getByTestId('anomaly-alert').nth(3).waitFor();
    // Move the pointer and the focus away so the picture shows the page at rest.
    await page.mouse.move(0, 0);
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });
    return page;
  }

  /** The left and right edges of every panel, and how wide the document is. */
  function measure(page: TestPage) {
    return page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      panels: Array.from(document.querySelectorAll<HTMLElement>('.topbar, section.card'), (el) => {
        const box = el.getBoundingClientRect();
        return { panel: el.dataset.testid ?? el.className, left: box.left, right: box.right, width: box.width };
      }),
    }));
  }

  test('a laptop (1440×900): the panels side by side (test-artifacts/dashboard.png)', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: env.dashboardDir } });
    await using page = await openShowcase(srv, laptop);

    const { scrollWidth, panels } = await measure(page);
    expect(scrollWidth).toBeLessThanOrEqual(laptop.width);
    expect(panels.length).toBe(7);
    // The findings beside the progress, not under it.
    const progress = (await page.locator('.overview-progress').boundingBox())!;
    const findings = (await page.getByTestId('findings-list').boundingBox())!;
    expect(findings.x).toBeGreaterThanOrEqual(progress.x + progress.width);

    await saveScreenshot(page, 'dashboard.png', 'dashboard.png');
    expect(page.pageErrors).toEqual([]);
  });

  test('a phone (390×844): every panel full width, the findings under the progress, nothing wider than the screen', async () => {
    await using srv = await startServer({ serveDashboard: true, dashboard: { dir: env.dashboardDir } });
    await using page = await openShowcase(srv, phone);

    const { scrollWidth, panels } = await measure(page);
    expect(scrollWidth).toBeLessThanOrEqual(phone.width);
    expect(panels.length).toBe(7);
    for (const p of panels) {
      expect(p.left, p.panel).toBeGreaterThanOrEqual(0);
      expect(p.right, p.panel).toBeLessThanOrEqual(phone.width);
      // One column: each panel takes (nearly) the whole width.
      expect(p.width, p.panel).toBeGreaterThan(phone.width - 60);
    }
    // The findings column used to shrink to a few characters a line beside the progress.
    const progress = (await page.locator('.overview-progress').boundingBox())!;
    const findings = (await page.getByTestId('findings-list').boundingBox())!;
    expect(findings.width).toBeGreaterThanOrEqual(200);
    expect(findings.y).toBeGreaterThanOrEqual(progress.y + progress.height);

    await saveScreenshot(page, 'dashboard-390.png', 'dashboard-390.png');
    expect(page.pageErrors).toEqual([]);
  });
});

type Backend = ReturnType<TestServer['httpClient']>;

function reportAnomaly(backend: Backend, anomaly: NotifyAnomalyInput['anomaly']) {
  return backend.investigation.notifyAnomaly.mutate({ investigationId: INV, anomaly });
}

/** A realistic investigation in progress, an analysis, notifications: something in every panel. */
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
    severity: 'low',
    description: 'Amounts rounded to the thousand in 31 contracts',
    contractId: 'CT-2024-0088',
    confidence: 0.42,
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
    severity: 'critical',
    description: 'Price 340% above the reference for identical items',
    contractId: 'CT-2024-0457',
    confidence: 0.94,
  });
  await reportAnomaly(backend, {
    severity: 'high',
    description: 'Supplier registered 12 days before the tender',
    contractId: 'CT-2024-0311',
    confidence: 0.83,
  });
  await update({
    investigationId: INV,
    updateType: 'agent_finding',
    data: { agent: 'Tiradentes', finding: 'Delivery dates precede the signature in 9 contracts' },
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
