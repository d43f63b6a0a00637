import { limitDefaults } from '../../shared/limits';
import { steadyConfig } from '../scenarios/fanoutSteady';
import type { FigureName, Summary } from './figures';

/** One acceptance line of the performance targets (bench/README.md), checked against the medians of this run. */
export interface Check {
  line: string;
  status: 'PASS' | 'FAIL' | 'n/a';
  detail: string;
}

/**
 * Issue 5's acceptance figures. A check whose inputs were not measured in this
 * run (a `--quick` run, `--only`, a peer left out) is `n/a`, never a pass.
 */
export function acceptanceChecks(summaries: Summary[], batchWindowMs: number = limitDefaults.BATCH_WINDOW_MS): Check[] {
  const get = (scenario: string, config: string, peer: string, name: FigureName) =>
    summaries.find((s) => s.scenario === scenario && s.config === config && s.peer === peer)?.figures[name];
  const checks: Check[] = [];
  const fmt = (v: number, d = 1) => v.toLocaleString('en-US', { maximumFractionDigits: d });

  const compare = (line: string, values: (number | undefined)[], test: (...v: number[]) => boolean, detail: (...v: number[]) => string) => {
    if (values.some((v) => v === undefined || !Number.isFinite(v)))
      return checks.push({ line, status: 'n/a', detail: 'not measured in this run' });
    const v = values as number[];
    checks.push({ line, status: test(...v) ? 'PASS' : 'FAIL', detail: detail(...v) });
  };

  for (const n of [1_000, 5_000]) {
    const config = `N=${n}`;
    const ours = get('fanout-max', config, 'ours', 'msgPerSec');
    const raw = get('fanout-max', config, 'raw', 'msgPerSec');
    const vanilla = get('fanout-max', config, 'vanilla', 'msgPerSec');
    compare(
      `fan-out ${config}: msg/s ≥ 0.7 × raw ws`,
      [ours, raw],
      (o, r) => o >= 0.7 * r,
      (o, r) => `${fmt(o, 0)} vs ${fmt(r, 0)} (${fmt(o / r, 2)}×)`,
    );
    compare(
      `fan-out ${config}: msg/s ≥ 3 × vanilla tRPC`,
      [ours, vanilla],
      (o, v) => o >= 3 * v,
      (o, v) => `${fmt(o, 0)} vs ${fmt(v, 0)} (${fmt(o / v, 2)}×)`,
    );
    const cpuOurs = get('fanout-max', config, 'ours', 'cpuUsPerMsg');
    const cpuRaw = get('fanout-max', config, 'raw', 'cpuUsPerMsg');
    compare(
      `fan-out ${config}: CPU/msg ≤ 1.5 × raw ws`,
      [cpuOurs, cpuRaw],
      (o, r) => o <= 1.5 * r,
      (o, r) => `${fmt(o, 2)} vs ${fmt(r, 2)} µs (${fmt(o / r, 2)}×)`,
    );
  }

  // The premise: a steady rate raw ws sustains with p99 < 100 ms. Each measured
  // rate says whether it held; ours is held to the bounds at the highest that did.
  const rates = [...new Set(summaries.filter((x) => x.scenario === 'fanout-steady').map((x) => Number(/^R=(\d+)/.exec(x.config)?.[1])))]
    .filter(Number.isFinite)
    .sort((a, b) => b - a);
  const held = rates.filter((r) => {
    const p99 = get('fanout-steady', steadyConfig(r, 'normal'), 'raw', 'p99Ms');
    compare(
      `steady ${r} events/s × 1 000: raw ws holds p99 < 100 ms (the premise)`,
      [p99],
      (p) => p < 100,
      (p) => `raw ws p99 ${fmt(p)} ms`,
    );
    return p99 !== undefined && p99 < 100;
  });
  const rate = held[0];
  if (rate === undefined) {
    checks.push({
      line: 'steady: ours p99 and 0 lost / duplicated at a rate raw ws sustains',
      status: 'n/a',
      detail: rates.length ? 'raw ws held p99 < 100 ms at no measured rate' : 'not measured in this run',
    });
  } else {
    for (const [kind, bound] of [
      ['normal', batchWindowMs + 50],
      ['critical', 50],
    ] as const) {
      const config = steadyConfig(rate, kind);
      const p99 = get('fanout-steady', config, 'ours', 'p99Ms');
      compare(
        `steady ${config}: ours p99 ≤ ${bound} ms`,
        [p99],
        (p) => p <= bound,
        (p) => `${fmt(p)} ms`,
      );
      const counts = (['lost', 'duplicated', 'undelivered'] as const).map((f) => get('fanout-steady', config, 'ours', f));
      compare(
        `steady ${config}: ours 0 lost, 0 duplicated, 0 undelivered`,
        counts,
        (...c) => c.every((x) => x === 0),
        (...c) => c.join(' / '),
      );
    }
  }

  const memOurs = get('idle-memory', 'N=10000', 'ours', 'rssPerConnKB');
  const memRaw = get('idle-memory', 'N=10000', 'raw', 'rssPerConnKB');
  compare(
    'idle memory per connection at 10 000 ≤ 1.5 × raw ws',
    [memOurs, memRaw],
    (o, r) => o <= 1.5 * r,
    (o, r) => `${fmt(o)} vs ${fmt(r)} KB (${fmt(o / r, 2)}×)`,
  );

  const hold = get('hold-10k', 'N=10000', 'ours', 'held');
  compare(
    '10 000 connections × 2 subscriptions held (every repeat)',
    [hold],
    (h) => h === 1,
    (h) => (h === 1 ? 'held' : 'not held in every repeat'),
  );
  return checks;
}

export function acceptanceMarkdown(checks: Check[]): string {
  return checks.map((c) => `- **${c.status}** ${c.line}: ${c.detail}`).join('\n');
}
