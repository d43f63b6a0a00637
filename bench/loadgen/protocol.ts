import type { HistogramData } from '../histogram';
import type { ClientSpec } from '../peers';

/** What the orchestrator and a load-generator worker say to each other over IPC. */

type SubKind = 'investigation' | 'chat' | 'notification';

export interface SubSpec {
  kind: SubKind;
  topic: string;
}

export interface ConnectPlan {
  client: ClientSpec;
  wsUrl: string;
  secret: string;
  /** Global index of the first connection (its user is `u<index>`) and how many. */
  from: number;
  count: number;
  /** hot: every connection on `name`; own: connection i on `${prefix}${i}`. */
  topic: { mode: 'hot'; name: string } | { mode: 'own'; prefix: string };
  kind: 'investigation' | 'chat';
  /** Also subscribe to the user's notifications (stream 1; no scenario does since hold-max replaced hold-10k). */
  withNotifications?: boolean;
  /**
   * Bind connection i's socket to source address 127.0.0.(2 + i mod n): more
   * connections than one address pair has ephemeral ports (hold-max). Linux
   * routes all of 127/8 to loopback.
   */
  sourceAddresses?: number;
  /** Connections in flight at once, in this worker. */
  concurrency: number;
  /** For each connection, from the first byte to subscribed. */
  timeoutMs: number;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  /** First few failure reasons. */
  errors: string[];
  ms: number;
}

export interface MarkResult {
  delivered: number;
  /** This process's CPU time (user + system), µs. */
  cpuUs: number;
  /** Latencies since the previous mark. */
  histogram: HistogramData;
}

export interface DrainResult {
  /** Connections still missing events at the end. */
  behind: number;
  /** Events not delivered by then (sum over connections). */
  missing: number;
  ms: number;
}

export interface WorkerStats {
  connections: number;
  delivered: number;
  /** Gaps in a connection's sequence. */
  lost: number;
  /** A seq at or below one already seen. */
  duplicated: number;
  /** Connections closed by the server after they were subscribed, by close code. */
  closed: Record<string, number>;
}

type None = Record<string, never>;

export type LoadgenCommands = {
  /** Signs the tokens of a plan (not timed). */
  prepare: { args: ConnectPlan; result: { tokens: number } };
  /** Opens the prepared connections; resolves when each is subscribed or failed. */
  connect: { args: None; result: ConnectResult };
  mark: { args: None; result: MarkResult };
  progress: { args: { on: boolean }; result: void };
  drain: { args: { finalByTopic: Record<string, number>; notes?: number; timeoutMs: number }; result: DrainResult };
  stats: { args: None; result: WorkerStats };
  closeAll: { args: None; result: void };
};

export type LoadgenEvent = { event: 'ready'; worker: number } | { event: 'progress'; worker: number; minSeq: number; delivered: number };
