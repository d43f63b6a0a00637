/**
 * Every size, rate and duration of the benchmark, in one place: the full run
 * (`npm run bench`, ≥ 2 repeats, medians) and the quick development run
 * (`npm run bench -- --quick`).
 */
export interface BenchConfig {
  repeats: number;
  /** Load-generator processes. */
  workers: number;
  /** fanout-max */
  warmupMs: number;
  measureMs: number;
  /** fanout-steady, many-topics, chat-stream (steady rates settle fast; keeps the full run near 15 min) */
  steadyWarmupMs: number;
  steadyMeasureMs: number;
  /** How long to wait after a run for every client to have the last event. */
  drainTimeoutMs: number;
  /** Connections being opened at once while setting up a scenario (all workers together). */
  connectConcurrency: number;
  /** Per connection, from the first byte to subscribed. */
  connectTimeoutMs: number;
  fanoutMax: { sizes: number[]; window: (subscribers: number) => number };
  /**
   * Steady rates (events/s to all subscribers). 100 is the targets' rate; a lower one
   * is added because the acceptance premise is "a rate raw ws sustains with
   * p99 < 100 ms", which 100 is not on every 2-core machine.
   */
  fanoutSteady: { subscribers: number; rates: number[] };
  manyTopics: { clients: number; rate: number };
  chatStream: { clients: number; tokensPerSecondPerClient: number };
  connectStorm: { connections: number; concurrency: number };
  idleMemory: { levels: number[]; settleMs: number };
  hold: { connections: number };
}

/**
 * Flow-control credit: more than a batch window's worth of events at any
 * rate these servers reach here (so batching is not what limits), small
 * enough that the raw peers' socket buffers stay bounded (window × ~450 B per
 * connection).
 */
const window = (subscribers: number) => (subscribers <= 1_000 ? 200 : 100);

export const fullConfig: BenchConfig = {
  repeats: 2,
  workers: 2,
  warmupMs: 2_000,
  measureMs: 8_000,
  steadyWarmupMs: 1_000,
  steadyMeasureMs: 5_000,
  drainTimeoutMs: 10_000,
  connectConcurrency: 200,
  connectTimeoutMs: 60_000,
  fanoutMax: { sizes: [1_000, 5_000], window },
  fanoutSteady: { subscribers: 1_000, rates: [100, 20] },
  manyTopics: { clients: 1_000, rate: 2_000 },
  chatStream: { clients: 1_000, tokensPerSecondPerClient: 20 },
  connectStorm: { connections: 2_000, concurrency: 200 },
  idleMemory: { levels: [1_000, 5_000, 10_000], settleMs: 1_000 },
  hold: { connections: 10_000 },
};

export const quickConfig: BenchConfig = {
  ...fullConfig,
  repeats: 1,
  warmupMs: 1_000,
  measureMs: 3_000,
  steadyWarmupMs: 500,
  steadyMeasureMs: 2_000,
  drainTimeoutMs: 3_000,
  fanoutMax: { sizes: [1_000], window },
  idleMemory: { levels: [500, 1_000, 2_000], settleMs: 500 },
  connectStorm: { connections: 1_000, concurrency: 200 },
  hold: { connections: 2_000 },
};
