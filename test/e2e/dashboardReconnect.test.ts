import { describe, expect, test } from 'vitest';
import { chromiumAvailable, saveScreenshot, waitForConnection } from '../support/browser';
import { openSignedIn, useDashboardBrowser } from '../support/dashboardPage';
import { REDIS_URL, redisAvailable, uniquePrefix } from '../support/redis';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';

const INV = 'inv-restart';
const aliceClaims = { sub: 'alice', roles: ['user'], investigations: [INV], analyses: ['an-restart'] };

// Both support modules announce (or, under CI=true, fail on) what is missing.
describe.skipIf(!chromiumAvailable || !redisAvailable)('the dashboard across a server restart (Redis)', () => {
  const env = useDashboardBrowser();

  test('the page shows it is reconnecting, comes back by itself, and shows what was published meanwhile, once', async () => {
    const shared = { redisUrl: REDIS_URL, redisKeyPrefix: uniquePrefix(), serveDashboard: true, dashboard: { dir: env.dashboardDir } };
    await using first = await startServer(shared);
    // Another node on the same Redis: the backend keeps publishing through it while the page's node is down.
    await using other = await startServer(shared);
    const backend = other.httpClient(await other.token({ sub: 'backend', roles: ['service'] }));

    await using page = await openSignedIn(env.browser, first, {
      watch: { investigation: INV, analysis: 'an-restart', session: 'chat-restart' },
      claims: aliceClaims,
      subscriptions: 5,
    });
    await backend.investigation.notifyUpdate.mutate({
      investigationId: INV,
      updateType: 'progress',
      data: { progress: 20, stage: 'before the restart' },
    });
    await page.locator('[data-testid="investigation-progress"][data-value="20"]').waitFor();

    // Restart, first half: the page's server goes away (its sockets are closed with 1001).
    await first.server.close();
    // Read in one go inside the page: the badge moves on to `connecting` when the delay is over.
    const shown = await page
      .waitForFunction(() => {
        const badge = document.querySelector('[data-testid="connection-state"]');
        if (badge?.getAttribute('data-state') !== 'reconnecting') return null;
        return {
          attempt: badge.getAttribute('data-attempt'),
          label: badge.querySelector('.connection-label')?.textContent,
          detail: badge.querySelector('[data-testid="connection-detail"]')?.textContent,
        };
      })
      .then((handle) => handle.jsonValue());
    if (!shown) throw new Error('waitForFunction resolves only with a value');
    expect(shown.attempt).toMatch(/^\d+$/);
    expect(shown.label).toBe(`Reconnecting · attempt ${shown.attempt}`);
    expect(shown.detail).toMatch(/^next try in \d+(\.\d)? m?s · closed with \d{4}$/);
    const badge = page.getByTestId('connection-state');
    await saveScreenshot(page, 'dashboard-reconnecting.png');

    await backend.investigation.notifyUpdate.mutate({
      investigationId: INV,
      updateType: 'progress',
      data: { progress: 70, stage: 'after the restart' },
    });
    await backend.investigation.notifyAnomaly.mutate({
      investigationId: INV,
      anomaly: { severity: 'critical', description: 'Published while the page was away', contractId: 'CT-9', confidence: 0.9 },
    });
    await backend.notification.send.mutate({
      userIds: ['alice'],
      title: 'While you were away',
      body: 'a critical anomaly in CT-9',
      level: 'critical',
    });
    // Still disconnected: what was just published cannot have reached the page yet.
    expect(await badge.getAttribute('data-state')).not.toBe('open');

    // Second half: a new server on the same port, with the same Redis.
    await using second = await startServer({ ...shared, port: first.address.port });
    await waitForConnection(page, 'open');
    await page.locator('[data-testid="anomaly-alert"][data-severity="critical"]').waitFor();
    await page.locator('[data-testid="investigation-progress"][data-value="70"]').waitFor();
    await page.locator('[data-testid="notification"][data-level="critical"]').waitFor();
    await waitFor(
      () => second.server.stats().subscriptions,
      (n) => n === 5,
      'the page to resubscribe on the new server',
    );

    // Nothing lost, nothing twice, in publish order (the timeline lists newest first).
    const timeline = await page
      .getByTestId('timeline-event')
      .evaluateAll((els) => els.map((el) => ({ id: el.getAttribute('data-event-id'), kind: el.getAttribute('data-kind') })));
    expect(timeline.map((e) => e.kind)).toEqual(['anomaly', 'progress', 'progress']);
    expect(new Set(timeline.map((e) => e.id)).size).toBe(3);
    expect(await page.getByTestId('investigation-stage').textContent()).toBe('after the restart');
    expect(await page.getByTestId('notification').count()).toBe(1);
    expect(await page.getByTestId('investigation-resync').count()).toBe(0);
    expect(page.pageErrors).toEqual([]);
  });
});
