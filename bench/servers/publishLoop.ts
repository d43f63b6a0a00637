import { nowMs } from '../clock';
import type { PublishRunArgs, PublishRunResult, ServerVariant } from './protocol';

/** Events published per macrotask in flow mode, so IPC and socket I/O keep flowing. */
const MAX_PER_TURN = 10;
const STEADY_TICK_MS = 2;

interface ActiveRun {
  args: PublishRunArgs;
  startedAt: number;
  published: number;
  next: number;
  allowed: number;
  active: boolean;
  scheduled: boolean;
  timers: NodeJS.Timeout[];
  lastSeqByTopic: Record<string, number>;
  errors: number;
  firstError?: string;
}

/**
 * Publishes inside the server process: steady (catch-up timer: each tick
 * publishes the events due by then that have not gone out), flow-controlled (up to the
 * credit the orchestrator grants), or once, at most MAX_PER_TURN events per
 * macrotask. `sentAt` is when the event was due (steady) or handed to the
 * variant (flow, once). Events of one topic go out one after another (a
 * publish that returns a promise is awaited before the next of its topic), as
 * a backend awaiting its calls would do.
 */
export class PublishLoop {
  private readonly seqs = new Map<string, number>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private run: ActiveRun | null = null;

  constructor(private readonly variant: ServerVariant) {}

  start(args: PublishRunArgs): { started: true } {
    if (this.run) throw new Error('a publish run is already going');
    if (args.topics.length === 0) throw new Error('no topics');
    const run: ActiveRun = {
      args,
      startedAt: nowMs(),
      published: 0,
      next: 0,
      allowed: args.allowed ?? Infinity,
      active: true,
      scheduled: false,
      timers: [],
      lastSeqByTopic: {},
      errors: 0,
    };
    this.run = run;
    run.timers.push(setTimeout(() => this.deactivate(run), args.maxDurationMs));
    if (args.mode === 'once') {
      for (let i = 0; i < args.topics.length; i++) this.publishOne(run, nowMs());
      this.deactivate(run);
    } else if (args.mode === 'steady') {
      const rate = args.rate ?? 0;
      if (!(rate > 0)) throw new Error('steady mode needs a rate');
      // Each event is stamped with the time it was due, not when it went out:
      // a server too busy to let its publisher keep the schedule shows that
      // delay in its latency instead of hiding it.
      const dueAt = (k: number) => run.startedAt + (k * 1000) / rate;
      const catchUp = () => {
        run.scheduled = false;
        // Event k is due at k / rate: by now, floor(elapsed × rate) + 1 of them are.
        const due = Math.floor(((nowMs() - run.startedAt) * rate) / 1000) + 1;
        let n = 0;
        while (run.active && run.published < due && n++ < MAX_PER_TURN) this.publishOne(run, dueAt(run.published));
        // Behind: go on in the next turn, so that IPC (stop, usage) is still answered.
        if (run.active && run.published < due && !run.scheduled) {
          run.scheduled = true;
          setImmediate(catchUp);
        }
      };
      run.timers.push(setInterval(() => run.scheduled || catchUp(), STEADY_TICK_MS));
    } else {
      this.schedulePump(run);
    }
    return { started: true };
  }

  allow(upTo: number): void {
    const run = this.run;
    if (!run || upTo <= run.allowed) return;
    run.allowed = upTo;
    this.schedulePump(run);
  }

  async stop(): Promise<PublishRunResult> {
    const run = this.run;
    if (!run) throw new Error('no publish run to stop');
    this.deactivate(run);
    await Promise.allSettled([...this.chains.values()]);
    this.run = null;
    const result: PublishRunResult = { published: run.published, lastSeqByTopic: run.lastSeqByTopic, errors: run.errors };
    if (run.firstError) result.firstError = run.firstError;
    return result;
  }

  private deactivate(run: ActiveRun) {
    run.active = false;
    for (const t of run.timers) clearTimeout(t);
  }

  private nextSeq(run: ActiveRun): number {
    const topic = run.args.topics[run.next % run.args.topics.length]!;
    return (this.seqs.get(topic) ?? 0) + 1;
  }

  private schedulePump(run: ActiveRun) {
    if (run.scheduled || !run.active) return;
    run.scheduled = true;
    setImmediate(() => {
      run.scheduled = false;
      let n = 0;
      while (run.active && n < MAX_PER_TURN && this.nextSeq(run) <= run.allowed) {
        this.publishOne(run, nowMs());
        n++;
      }
      if (run.active && this.nextSeq(run) <= run.allowed) this.schedulePump(run);
    });
  }

  private publishOne(run: ActiveRun, sentAt: number) {
    const { topics, kind } = run.args;
    const topic = topics[run.next % topics.length]!;
    run.next++;
    const seq = (this.seqs.get(topic) ?? 0) + 1;
    this.seqs.set(topic, seq);
    run.lastSeqByTopic[topic] = seq;
    run.published++;
    const fail = (err: unknown) => {
      run.errors++;
      run.firstError ??= err instanceof Error ? err.message : String(err);
    };
    const publish = () => {
      try {
        const r = this.variant.publish(kind, topic, seq, sentAt);
        return r instanceof Promise ? r.catch(fail) : undefined;
      } catch (err) {
        fail(err);
        return undefined;
      }
    };
    const previous = this.chains.get(topic);
    const current = previous ? previous.then(publish) : publish();
    if (current) {
      this.chains.set(topic, current);
      // Forget a settled chain so the map does not pin every topic's last promise.
      void current.then(() => {
        if (this.chains.get(topic) === current) this.chains.delete(topic);
      });
    }
  }
}
