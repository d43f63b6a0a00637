import { nowMs } from '../clock';
import { mergeHistograms } from '../histogram';
import { ChildChannel } from '../ipc';
import type { ConnectPlan, ConnectResult, DrainResult, LoadgenCommands, LoadgenEvent, MarkResult, WorkerStats } from '../loadgen/protocol';
import { forkChild, stopChild } from './children';

type Worker = ChildChannel<LoadgenCommands, LoadgenEvent>;

/** A plan for all workers together: `total` connections from global index `from`. */
export type GroupPlan = Omit<ConnectPlan, 'from' | 'count' | 'concurrency'> & { from: number; total: number; concurrency: number };

const START_TIMEOUT_MS = 30_000;

/**
 * The load-generator worker processes as one: plans are split evenly across
 * them and their answers merged (counts added, histograms merged).
 */
export class Loadgen {
  private constructor(readonly workers: Worker[]) {}

  static async start(count: number): Promise<Loadgen> {
    const workers = Array.from({ length: count }, (_, i) => {
      const proc = forkChild('loadgen/worker.ts', { BENCH_WORKER: String(i) });
      return new ChildChannel<LoadgenCommands, LoadgenEvent>(`load generator ${i}`, proc);
    });
    const group = new Loadgen(workers);
    try {
      await Promise.all(
        workers.map((w) => w.waitForEvent((e): e is LoadgenEvent => e.event === 'ready', 'ready message', START_TIMEOUT_MS)),
      );
    } catch (err) {
      await group.stop();
      throw err;
    }
    return group;
  }

  /** Signs every worker's tokens (untimed); `open()` then connects. */
  async prepare(plan: GroupPlan): Promise<void> {
    const n = this.workers.length;
    let from = plan.from;
    await Promise.all(
      this.workers.map((w, i) => {
        const count = Math.floor(plan.total / n) + (i < plan.total % n ? 1 : 0);
        const { total: _total, ...rest } = plan;
        const part: ConnectPlan = { ...rest, from, count, concurrency: Math.max(1, Math.round(plan.concurrency / n)) };
        from += count;
        return w.request('prepare', part, 120_000);
      }),
    );
  }

  /** Opens the prepared connections; `ms` is the wall time until the last one settled. */
  async open(timeoutMs: number): Promise<ConnectResult> {
    const started = nowMs();
    const parts = await Promise.all(this.workers.map((w) => w.request('connect', {}, timeoutMs)));
    return {
      opened: sum(parts.map((p) => p.opened)),
      failed: sum(parts.map((p) => p.failed)),
      errors: parts.flatMap((p) => p.errors).slice(0, 5),
      ms: nowMs() - started,
    };
  }

  async connect(plan: GroupPlan, timeoutMs: number): Promise<ConnectResult> {
    await this.prepare(plan);
    return this.open(timeoutMs);
  }

  async mark(): Promise<MarkResult> {
    const parts = await Promise.all(this.workers.map((w) => w.request('mark', {})));
    return {
      delivered: sum(parts.map((p) => p.delivered)),
      cpuUs: sum(parts.map((p) => p.cpuUs)),
      histogram: mergeHistograms(parts.map((p) => p.histogram)),
    };
  }

  async progress(on: boolean): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request('progress', { on })));
  }

  onProgress(listener: (e: Extract<LoadgenEvent, { event: 'progress' }>) => void): () => void {
    const offs = this.workers.map((w) =>
      w.onEvent((e) => {
        if (e.event === 'progress') listener(e);
      }),
    );
    return () => {
      for (const off of offs) off();
    };
  }

  async drain(finalByTopic: Record<string, number>, notes: number, timeoutMs: number): Promise<DrainResult> {
    const parts = await Promise.all(this.workers.map((w) => w.request('drain', { finalByTopic, notes, timeoutMs }, timeoutMs + 30_000)));
    return { behind: sum(parts.map((p) => p.behind)), missing: sum(parts.map((p) => p.missing)), ms: Math.max(...parts.map((p) => p.ms)) };
  }

  async stats(): Promise<WorkerStats> {
    const parts = await Promise.all(this.workers.map((w) => w.request('stats', {})));
    const closed: Record<string, number> = {};
    for (const p of parts) for (const [code, n] of Object.entries(p.closed)) closed[code] = (closed[code] ?? 0) + n;
    return {
      connections: sum(parts.map((p) => p.connections)),
      delivered: sum(parts.map((p) => p.delivered)),
      lost: sum(parts.map((p) => p.lost)),
      duplicated: sum(parts.map((p) => p.duplicated)),
      closed,
    };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request('closeAll', {}, 60_000).catch(() => undefined)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => stopChild(w.proc)));
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
