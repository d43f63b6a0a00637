import { join } from 'node:path';
import { expect, inject, test } from 'vitest';
import { startServer } from './support/server';

/**
 * Every HTTP answer says `X-Content-Type-Options: nosniff`, once: a browser
 * must never read a JSON error or the metrics text as HTML or script.
 */
test('every HTTP answer carries X-Content-Type-Options: nosniff exactly once', async () => {
  const dist = inject('dashboardDir');
  await using srv = await startServer({ serveDashboard: true, dashboard: { dir: dist } });
  await using bare = await startServer({ serveDashboard: true, dashboard: { dir: join(dist, 'not-there') } });
  const service = await srv.token({ sub: 'backend', roles: ['service'] });
  const base = srv.address.httpUrl;
  const requests: [string, string, RequestInit?][] = [
    ['health', `${base}/api/v1/ws/health`],
    ['metrics', `${base}/metrics`],
    ['404', `${base}/no-such-page`],
    ['tRPC query', `${base}/api/v1/trpc/system.health`],
    [
      'tRPC error (no token)',
      `${base}/api/v1/trpc/investigation.notifyUpdate`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    ],
    ['tRPC error (not JSON)', `${base}/api/v1/trpc/investigation.notifyUpdate`, { method: 'POST', body: '{}' }],
    [
      'tRPC mutation',
      `${base}/api/v1/trpc/investigation.notifyUpdate`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
        body: JSON.stringify({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 1 } }),
      },
    ],
    ['dashboard page', `${base}/`],
    ['dashboard settings', `${base}/dashboard-config.json`],
    ['dashboard not built', `${bare.address.httpUrl}/`],
  ];
  const seen: Record<string, string | null> = {};
  for (const [name, url, init] of requests) {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    seen[`${name} (${res.status})`] = res.headers.get('x-content-type-options');
  }
  expect(Object.keys(seen)).toEqual([
    'health (200)',
    'metrics (200)',
    '404 (404)',
    'tRPC query (200)',
    'tRPC error (no token) (401)',
    'tRPC error (not JSON) (415)',
    'tRPC mutation (200)',
    'dashboard page (200)',
    'dashboard settings (200)',
    'dashboard not built (404)',
  ]);
  expect(new Set(Object.values(seen))).toEqual(new Set(['nosniff']));
});
