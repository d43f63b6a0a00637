/**
 * Latency histogram with log-scale buckets (2 % wide), in microseconds, from
 * 1 µs to beyond 10 minutes. Fixed bucket edges make histograms of different
 * workers and repeats mergeable by adding counts; quantiles are read as the
 * upper edge of the bucket that holds them (at most 2 % high). The max is exact.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 1100; // 1.02^1100 µs ≈ 2.8e9 µs ≈ 46 min

export interface HistogramData {
  counts: number[];
  total: number;
  maxUs: number;
}

export class Histogram {
  counts = new Float64Array(BUCKETS);
  total = 0;
  maxUs = 0;

  record(us: number): void {
    const v = Math.max(us, 1);
    let i = Math.ceil(Math.log(v) / LOG_GROWTH);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]!++;
    this.total++;
    if (us > this.maxUs) this.maxUs = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxUs = 0;
  }

  /** A compact copy for IPC: counts as a plain array (trailing zeros dropped). */
  toData(): HistogramData {
    let last = BUCKETS - 1;
    while (last >= 0 && this.counts[last] === 0) last--;
    return { counts: Array.from(this.counts.subarray(0, last + 1)), total: this.total, maxUs: this.maxUs };
  }
}

export function mergeHistograms(parts: HistogramData[]): HistogramData {
  const counts: number[] = [];
  let total = 0;
  let maxUs = 0;
  for (const p of parts) {
    p.counts.forEach((c, i) => {
      counts[i] = (counts[i] ?? 0) + c;
    });
    total += p.total;
    maxUs = Math.max(maxUs, p.maxUs);
  }
  return { counts: Array.from(counts, (c) => c ?? 0), total, maxUs };
}

/** The value (µs) under which a fraction `q` of the samples lie; NaN when empty. */
export function quantileUs(h: HistogramData, q: number): number {
  if (h.total === 0) return NaN;
  const rank = Math.ceil(q * h.total);
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= rank) return Math.min(GROWTH ** i, h.maxUs);
  }
  return h.maxUs;
}
