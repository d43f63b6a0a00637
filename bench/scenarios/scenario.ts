import os from 'node:os';
import type { BenchConfig } from '../config';
import type { GroupPlan } from '../orchestrator/loadgen';
import { measuredRun, type RunSpec } from '../orchestrator/measuredRun';
import { connectOrThrow, type Session, type SessionOptions, withSession } from '../orchestrator/session';
import type { PeerSpec } from '../peers';
import type { Figures, Measurement } from '../report/figures';

export interface ScenarioContext {
  config: BenchConfig;
  peers: PeerSpec[];
  secret: string;
  record(m: Measurement): void;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  /** One paragraph for the README and the report. */
  about: string;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface Outcome {
  config: string;
  figures: Figures;
  warnings: string[];
  /** Not measured: why. */
  failed?: string;
}

/** Starts a session of a peer, runs `fn` in it, stops everything (withSession: one server process and fresh workers). */
export type SessionOpener<S extends Session> = <T>(peer: PeerSpec, opts: SessionOptions, fn: (s: S) => Promise<T>) => Promise<T>;

export interface RepeatOptions {
  /** Load-generator processes (default: the run's --workers). */
  workers?: number;
}

/**
 * Runs `measure` once per repeat and peer, each in a fresh session, peers
 * interleaved within a repeat (so a noisy moment on the shared machine does
 * not land on one peer's repeats only). A failed run is recorded with its
 * reason and the benchmark goes on.
 */
export async function eachRepeatAndPeer(
  ctx: ScenarioContext,
  scenario: string,
  peers: PeerSpec[],
  configs: string[],
  measure: (s: Session) => Promise<Outcome[]>,
  options: RepeatOptions = {},
): Promise<void> {
  for (let repeat = 1; repeat <= ctx.config.repeats; repeat++) {
    for (const peer of peers) await measureOnce(ctx, scenario, { peer, repeat, configs }, measure, withSession, options);
  }
}

/** One session of one peer: its outcomes recorded and logged, or every config recorded as failed with the reason. */
export async function measureOnce<S extends Session>(
  ctx: ScenarioContext,
  scenario: string,
  at: { peer: PeerSpec; repeat: number; configs: string[] },
  measure: (s: S) => Promise<Outcome[]>,
  open: SessionOpener<S>,
  options: RepeatOptions = {},
): Promise<void> {
  const { peer, repeat, configs } = at;
  const tag = `[${scenario}] ${peer.name} #${repeat}`;
  try {
    const outcomes = await open(peer, { secret: ctx.secret, workers: options.workers ?? ctx.config.workers }, measure);
    for (const o of outcomes) {
      const m: Measurement = {
        scenario,
        config: o.config,
        peer: peer.name,
        repeat,
        figures: o.figures,
        warnings: o.warnings,
        load1: Math.round(os.loadavg()[0]! * 100) / 100,
      };
      if (o.failed) m.failed = o.failed;
      ctx.record(m);
      ctx.log(`${tag} ${o.config}: ${o.failed ? `NOT MEASURED: ${o.failed}` : describe(o.figures)}`);
      for (const w of o.warnings) ctx.log(`  !!! ${tag} ${o.config}: ${w}`);
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    ctx.log(`  !!! ${tag} FAILED: ${reason}`);
    for (const config of configs)
      ctx.record({ scenario, config, peer: peer.name, repeat, figures: {}, warnings: [reason], failed: reason });
  }
}

function describe(f: Figures): string {
  const parts: string[] = [];
  const n = (v: number | undefined, digits = 0) => (v === undefined ? '' : v.toLocaleString('en-US', { maximumFractionDigits: digits }));
  if (f.publishedPerSec !== undefined) parts.push(`${n(f.publishedPerSec)} events/s published`);
  if (f.msgPerSec !== undefined) parts.push(`${n(f.msgPerSec)} msg/s`);
  if (f.p50Ms !== undefined) parts.push(`p50 ${n(f.p50Ms, 1)} p99 ${n(f.p99Ms, 1)} max ${n(f.maxMs, 1)} ms`);
  else if (f.p99Ms !== undefined) parts.push(`p99 ${n(f.p99Ms, 1)} max ${n(f.maxMs, 1)} ms`);
  if (f.lost !== undefined) parts.push(`lost ${f.lost} dup ${f.duplicated} undelivered ${f.undelivered}`);
  if (f.cpuUsPerMsg !== undefined) parts.push(`cpu ${n(f.cpuUsPerMsg, 2)} µs/msg (loadgen ${n(f.loadgenCpuUsPerMsg, 2)})`);
  if (f.peakRssMB !== undefined) parts.push(`peak rss ${n(f.peakRssMB)} MB`);
  if (f.connPerSec !== undefined)
    parts.push(`${n(f.connPerSec)} conn/s, cpu ${n(f.cpuUsPerConn)} µs/conn (loadgen ${n(f.loadgenCpuUsPerConn)})`);
  if (f.rssPerConnKB !== undefined) parts.push(`${n(f.rssPerConnKB, 1)} KB rss/conn, ${n(f.heapPerConnKB, 1)} KB heap+ext/conn`);
  if (f.rssMB !== undefined) parts.push(`rss ${n(f.rssMB)} MB`);
  if (f.heldConnections !== undefined) parts.push(`${n(f.heldConnections)} connections got the event`);
  if (f.held !== undefined) parts.push(f.held ? 'HELD' : 'NOT HELD');
  return parts.join(', ');
}

export const hotTopic = 'hot';
export const topicsOf = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

type ClientPlan = Pick<GroupPlan, 'total' | 'topic' | 'kind'> & Partial<Pick<GroupPlan, 'from' | 'withNotifications' | 'sourceAddresses'>>;

/** Connects and subscribes clients with the run's concurrency and timeouts; throws if any failed. */
export function connectClients(ctx: ScenarioContext, s: Session, plan: ClientPlan) {
  const { connectConcurrency, connectTimeoutMs } = ctx.config;
  return connectOrThrow(s, { from: 0, concurrency: connectConcurrency, timeoutMs: connectTimeoutMs, ...plan }, connectTimeoutMs * 4);
}

/** A steady-rate run with the steady scenarios' warmup, window and drain. */
export function steadyRun(ctx: ScenarioContext, s: Session, spec: Pick<RunSpec, 'kind' | 'topics' | 'rate'>) {
  const { steadyWarmupMs, steadyMeasureMs, drainTimeoutMs } = ctx.config;
  return measuredRun(s, { ...spec, mode: 'steady', warmupMs: steadyWarmupMs, measureMs: steadyMeasureMs, drainTimeoutMs });
}
