import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe } from 'vitest';
import { spawnProcess } from './spawned';
import { freePort, requireExecutables } from './tools';
import { waitFor } from './wait';

/** Debian's prometheus and promtool (apt-get install prometheus); PROMETHEUS_PATH / PROMTOOL_PATH to use others. */
const PROMETHEUS_PATH = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const PROMTOOL_PATH = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
export const ALERTS_FILE = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));

const prometheusAvailable = requireExecutables(
  'Prometheus (metrics, dashboard and alerts)',
  [PROMETHEUS_PATH, PROMTOOL_PATH],
  'apt-get update && apt-get install -y prometheus',
);

/** `describe` when prometheus and promtool are installed, a loud skip when not (and a failure under CI). */
export const describeWithPrometheus = describe.skipIf(!prometheusAvailable);

/** Runs promtool; never throws for its exit code, which the test looks at. */
export async function promtool(args: readonly string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL_PATH, args);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** One answer of Prometheus's HTTP API. */
export interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RuleGroup {
  name: string;
  rules: { name: string; query: string; health: string; lastError?: string; type: string }[];
}

interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastScrape: string;
  lastError: string;
}

/**
 * A Prometheus of the test's own: it scrapes `targets` (host:port) every
 * second as job `realtime` (the job of deploy/prometheus/prometheus.yml), with
 * `bearer` as the token of /metrics (METRICS_TOKEN) when given, and
 * evaluates deploy/prometheus/alerts.yml every second, with its data in a
 * temporary folder and its API on a free loopback port. Disposable.
 */
export async function startPrometheus(targets: readonly string[], opts: { bearer?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'realtime-prometheus-'));
  let port: number;
  try {
    port = await freePort();
    await copyFile(ALERTS_FILE, join(dir, 'alerts.yml'));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    '  - alerts.yml',
    'scrape_configs:',
    '  - job_name: realtime',
    // As deploy/prometheus/prometheus.yml's commented block does for METRICS_TOKEN (a file there, inline here).
    ...(opts.bearer ? ['    authorization:', '      type: Bearer', `      credentials: '${opts.bearer}'`] : []),
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const prometheus = spawnProcess(
    PROMETHEUS_PATH,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir },
  );
  const { child } = prometheus;
  const url = `http://127.0.0.1:${port}`;
  const dispose = async () => {
    await prometheus[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  };

  async function api<T>(path: string): Promise<ApiAnswer<T>> {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as ApiAnswer<T>;
  }

  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${prometheus.stderr()}`);
        return fetch(`${url}/-/ready`).then(
          (res) => res.status,
          () => 0,
        );
      },
      (status) => status === 200,
      'prometheus to be ready',
    );
  } catch (error) {
    await dispose();
    throw error;
  }

  return {
    url,
    stderr: prometheus.stderr,
    /** An instant query, evaluated now. */
    query: (expr: string) => api<{ resultType: string; result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    /** The rule groups Prometheus loaded from alerts.yml, each rule with its expression and evaluation health. */
    rules: async () => (await api<{ groups: RuleGroup[] }>('/api/v1/rules')).data.groups,
    /**
     * Waits until every target was scraped successfully after `sinceMs`
     * (Date.now()) twice, so a rate over the last minute sees what happened before.
     */
    async scrapedAfter(sinceMs: number): Promise<void> {
      const first = await waitFor(
        async () => (await api<{ activeTargets: Target[] }>('/api/v1/targets')).data.activeTargets,
        (list) => list.length === targets.length && list.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > sinceMs),
        'a scrape of every target after the traffic',
      );
      const again = Math.max(...first.map((t) => Date.parse(t.lastScrape)));
      await waitFor(
        async () => (await api<{ activeTargets: Target[] }>('/api/v1/targets')).data.activeTargets,
        (list) => list.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > again),
        'a second scrape of every target',
      );
    },
    [Symbol.asyncDispose]: dispose,
  };
}
