import { nowMs, sleep } from '../clock';
import { type HistogramData, quantileUs } from '../histogram';
import type { EventKind, PublishRunResult } from '../servers/protocol';
import { startFlowControl } from './flowControl';
import type { Session } from './session';

export interface RunSpec {
  kind: EventKind;
  topics: string[];
  mode: 'steady' | 'flow';
  /** steady: events/s over all topics */
  rate?: number;
  /** flow: credit in events ahead of the slowest client */
  window?: number;
  /** flow: the topic's seq before this run (0 on a fresh server) */
  seqBase?: number;
  warmupMs: number;
  measureMs: number;
  drainTimeoutMs: number;
}

interface RunFigures {
  /** Events the server's publisher got out per second over the run (below the rate: it could not keep up). */
  publishedPerSec: number;
  msgPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  lost: number;
  duplicated: number;
  undelivered: number;
  cpuUsPerMsg: number;
  loadgenCpuUsPerMsg: number;
  peakRssMB: number;
}

export interface RunOutcome {
  figures: RunFigures;
  warnings: string[];
  /**
   * The server did not answer the end of the run in time, or clients were still
   * missing events after the drain: a backlog remains, so another run on this
   * session would measure it, not itself.
   */
  stuck: boolean;
  /** Each topic's last seq published (empty if the server did not answer the stop): a next flow run's `seqBase`. */
  lastSeqByTopic: Record<string, number>;
}

const MB = 1024 * 1024;
/** A server still busy this long after being told to stop publishing is reported as overwhelmed. */
const STOP_TIMEOUT_MS = 20_000;

/**
 * One publish run: warmup, a measured window (delivered msg/s, latency of the
 * window, server CPU per delivered message), stop, drain (wait until every
 * client has the last seq), then order checks over the whole run. Peak RSS
 * covers the run from its start through the drain. CPU and RSS come from
 * /proc, so an overwhelmed server is still measured.
 */
export async function measuredRun(s: Session, spec: RunSpec): Promise<RunOutcome> {
  const { server, loadgen } = s;
  const request = server.channel.request.bind(server.channel);
  const before = await loadgen.stats();
  server.peakRss.reset();
  const flow = spec.mode === 'flow' ? startFlowControl(server, loadgen, spec.window ?? 100, spec.seqBase ?? 0) : null;
  let window: { seconds: number; cpuUs: number; delivered: number; loadgenCpuUs: number; histogram: HistogramData };
  let run: PublishRunResult | null = null;
  const warnings: string[] = [];
  let runSeconds = 0;
  try {
    if (flow) await loadgen.progress(true);
    const runArgs = { kind: spec.kind, topics: spec.topics, mode: spec.mode, maxDurationMs: spec.warmupMs + spec.measureMs + 60_000 };
    const started = nowMs();
    await request('startRun', flow ? { ...runArgs, allowed: flow.initial } : { ...runArgs, rate: spec.rate ?? 0 });
    await sleep(spec.warmupMs);
    const m0 = await loadgen.mark();
    const t0 = nowMs();
    const c0 = server.cpuUs();
    await sleep(spec.measureMs);
    const m1 = await loadgen.mark();
    const t1 = nowMs();
    const c1 = server.cpuUs();
    window = {
      seconds: (t1 - t0) / 1000,
      cpuUs: c1 - c0,
      delivered: m1.delivered - m0.delivered,
      loadgenCpuUs: m1.cpuUs - m0.cpuUs,
      histogram: m1.histogram,
    };
    run = await request('stopRun', {}, STOP_TIMEOUT_MS).catch((err: unknown) => {
      warnings.push(`server overwhelmed: ${err instanceof Error ? err.message : String(err)}; undelivered not measured`);
      return null;
    });
    runSeconds = (nowMs() - started) / 1000;
  } finally {
    flow?.stop();
    if (flow) await loadgen.progress(false);
  }
  const drain = run ? await loadgen.drain(run.lastSeqByTopic, 0, spec.drainTimeoutMs) : null;
  const after = await loadgen.stats();

  const h = window.histogram;
  const figures: RunFigures = {
    publishedPerSec: run ? run.published / runSeconds : NaN,
    msgPerSec: window.delivered / window.seconds,
    p50Ms: quantileUs(h, 0.5) / 1000,
    p95Ms: quantileUs(h, 0.95) / 1000,
    p99Ms: quantileUs(h, 0.99) / 1000,
    maxMs: h.maxUs / 1000,
    lost: after.lost - before.lost,
    duplicated: after.duplicated - before.duplicated,
    undelivered: drain ? drain.missing : NaN,
    cpuUsPerMsg: window.cpuUs / Math.max(1, window.delivered),
    loadgenCpuUsPerMsg: window.loadgenCpuUs / Math.max(1, window.delivered),
    peakRssMB: server.peakRss.read() / MB,
  };
  if (figures.lost > 0) warnings.push(`LOST ${figures.lost} events (gaps in a connection's sequence)`);
  if (figures.duplicated > 0) warnings.push(`DUPLICATED ${figures.duplicated} events`);
  if (drain && drain.behind > 0)
    warnings.push(
      `${drain.missing} events still undelivered to ${drain.behind} connections after a ${Math.round(spec.drainTimeoutMs / 1000)} s drain`,
    );
  const closedNow = Object.entries(after.closed).filter(([code, n]) => n > (before.closed[code] ?? 0));
  if (closedNow.length > 0)
    warnings.push(
      `server closed connections: ${closedNow.map(([code, n]) => `${n - (before.closed[code] ?? 0)} with ${code}`).join(', ')}`,
    );
  if (run && run.errors > 0) warnings.push(`${run.errors} publishes failed; first: ${run.firstError ?? '?'}`);
  if (window.delivered === 0) warnings.push('nothing delivered in the measured window');
  return { figures, warnings, stuck: run === null || (drain !== null && drain.behind > 0), lastSeqByTopic: run?.lastSeqByTopic ?? {} };
}
