import type { LimitName } from '../../shared/limits';

/**
 * What the orchestrator and a server-variant process say to each other over
 * IPC (see ../ipc.ts). Publishing happens inside the server process, the way
 * an embedding backend publishes; the orchestrator only starts, paces (flow
 * control credit) and stops it, and reads the process's CPU and memory.
 */

/**
 * normal: investigation `agent_finding` update; critical: anomaly of severity
 * high; chat: a `chat_token` on the client's own stream; notification: one
 * broadcast notification to every user.
 */
export type EventKind = 'normal' | 'critical' | 'chat' | 'notification';

export interface PublishRunArgs {
  kind: EventKind;
  /** Published round robin; each topic has its own seq, from 1, kept across runs. */
  topics: string[];
  /**
   * steady: `rate` events/s in total, with a catch-up timer (a late tick publishes
   * what is due); flow: as fast as the credit given by `allow` permits.
   */
  mode: 'steady' | 'flow' | 'once';
  rate?: number;
  /** flow: the highest seq a topic may reach before the next `allow`. */
  allowed?: number;
  /** Publishing stops by itself after this long if no stopRun came. */
  maxDurationMs: number;
}

export interface PublishRunResult {
  published: number;
  lastSeqByTopic: Record<string, number>;
  errors: number;
  firstError?: string;
}

export interface Usage {
  /** nowMs() when read */
  at: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

type None = Record<string, never>;

export type ServerCommands = {
  startRun: { args: PublishRunArgs; result: { started: true } };
  allow: { args: { upTo: number }; result: void };
  stopRun: { args: None; result: PublishRunResult };
  usage: { args: None; result: Usage };
  /** global.gc() a few times, then usage. */
  gc: { args: None; result: Usage };
};

export type ServerEvent = { event: 'ready'; port: number; wsUrl: string };

export interface ServerVariant {
  /** Listens on 127.0.0.1, port 0; resolves to the port and the WebSocket URL clients connect to. */
  listen(): Promise<{ port: number; wsUrl: string }>;
  /** Publishes one event; a promise is awaited before the next event of the same topic. */
  publish(kind: EventKind, topic: string, seq: number, sentAt: number): void | Promise<unknown>;
}

/** The JWT secret every variant verifies with and the generator signs with. */
export function benchSecret(): string {
  const secret = process.env.BENCH_JWT_SECRET;
  if (!secret || secret.length < 32) throw new Error('BENCH_JWT_SECRET (≥ 32 characters) must be set by the orchestrator');
  return secret;
}

/**
 * BENCH_LIMITS (JSON, a variant's `env` in peers.ts): overrides of our limits.
 * Ours passes them to createRealtimeServer; the batched raw ws peer takes its
 * BATCH_WINDOW_MS from them, so one setting moves both windows.
 */
export function benchLimits(): Partial<Record<LimitName, number>> {
  return JSON.parse(process.env.BENCH_LIMITS ?? '{}') as Partial<Record<LimitName, number>>;
}
