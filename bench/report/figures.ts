/** The figures a scenario records, how they print, and how repeats combine. */
export const FIGURES = {
  publishedPerSec: { label: 'published events/s (whole run)', digits: 0 },
  msgPerSec: { label: 'delivered msg/s', digits: 0 },
  p50Ms: { label: 'latency p50 (ms)', digits: 1 },
  p95Ms: { label: 'latency p95 (ms)', digits: 1 },
  p99Ms: { label: 'latency p99 (ms)', digits: 1 },
  maxMs: { label: 'latency max (ms)', digits: 1 },
  lost: { label: 'lost', digits: 0 },
  duplicated: { label: 'duplicated', digits: 0 },
  undelivered: { label: 'undelivered after drain', digits: 0 },
  cpuUsPerMsg: { label: 'server CPU µs / delivered msg', digits: 2 },
  loadgenCpuUsPerMsg: { label: 'load generator CPU µs / msg (all workers)', digits: 2 },
  peakRssMB: { label: 'server peak RSS (MB)', digits: 0 },
  connPerSec: { label: 'connections/s (auth + subscribe)', digits: 0 },
  cpuUsPerConn: { label: 'server CPU µs / connection', digits: 0 },
  loadgenCpuUsPerConn: { label: 'load generator CPU µs / connection', digits: 0 },
  rssPerConnKB: { label: 'server RSS / connection (KB)', digits: 1 },
  heapPerConnKB: { label: 'server heap+external / connection (KB)', digits: 1 },
  rssMB: { label: 'server RSS (MB)', digits: 0 },
  heldConnections: { label: 'connections that got the event', digits: 0 },
  held: { label: 'held (1 = every connection got the event, none closed)', digits: 0 },
} as const;

export type FigureName = keyof typeof FIGURES;
export type Figures = Partial<Record<FigureName, number>>;

/** Counts of things that must not happen: the worst repeat is reported, not the median. */
const WORST_OF: ReadonlySet<FigureName> = new Set(['lost', 'duplicated', 'undelivered']);
/** Counts folded into one table cell `lost / dup / undelivered`. */
export const DELIVERY_COUNTS: readonly FigureName[] = ['lost', 'duplicated', 'undelivered'];

export interface Measurement {
  scenario: string;
  /** e.g. `N=1000`, `critical` */
  config: string;
  peer: string;
  repeat: number;
  figures: Figures;
  warnings: string[];
  /** Set when the run did not complete: why. */
  failed?: string;
  /** The machine's 1-minute load average when it ended (the machine is shared: a noise indicator). */
  load1?: number;
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Medians (worst for the delivery counts) of every figure, per scenario × config × peer. */
export interface Summary {
  scenario: string;
  config: string;
  peer: string;
  repeats: number;
  failed: number;
  figures: Figures;
}

export function summarize(measurements: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = `${m.scenario}\u0000${m.config}\u0000${m.peer}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()].map((ms) => {
    const first = ms[0]!;
    const ok = ms.filter((m) => !m.failed);
    const names = new Set(ok.flatMap((m) => Object.keys(m.figures) as FigureName[]));
    const figures: Figures = {};
    for (const name of names) {
      const values = ok.map((m) => m.figures[name]).filter((v): v is number => v !== undefined);
      figures[name] = WORST_OF.has(name) ? Math.max(...values) : median(values);
    }
    return { scenario: first.scenario, config: first.config, peer: first.peer, repeats: ok.length, failed: ms.length - ok.length, figures };
  });
}

export function formatNumber(name: FigureName, value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const digits = FIGURES[name].digits;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
