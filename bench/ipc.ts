import type { ChildProcess } from 'node:child_process';

/**
 * Request/response over Node's process IPC, used between the orchestrator and
 * every child (server variants and load-generator workers):
 * `{ id, cmd, args }` → `{ id, ok, result | error }`. A request without `id`
 * is a notification (no answer). Children also send events `{ event, ... }`.
 */

/** The commands a child serves: name → argument and result types. */
export type CommandMap = Record<string, { args: unknown; result: unknown }>;

export type Handlers<C extends CommandMap> = {
  [K in keyof C]: (args: C[K]['args']) => C[K]['result'] | Promise<C[K]['result']>;
};

interface RequestMessage {
  id?: number;
  cmd: string;
  args: unknown;
}

interface ResponseMessage {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Child side: answers the parent's requests; exits when the parent goes away. */
export function serveCommands<C extends CommandMap>(handlers: Handlers<C>): void {
  if (!process.send) throw new Error('this file is a child process: start it with child_process.fork');
  // The orchestrator died or closed the channel: never linger.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw: RequestMessage) => {
    const handler = (handlers as Record<string, (args: unknown) => unknown>)[raw.cmd];
    const answer = (msg: ResponseMessage) => {
      // The callback swallows EPIPE when the orchestrator gave up and left meanwhile.
      if (raw.id !== undefined && process.connected) process.send!(msg, undefined, undefined, () => undefined);
    };
    if (!handler) return answer({ id: raw.id ?? -1, ok: false, error: `unknown command ${raw.cmd}` });
    Promise.resolve()
      .then(() => handler(raw.args))
      .then(
        (result) => answer({ id: raw.id ?? -1, ok: true, result }),
        (err: unknown) => {
          if (raw.id === undefined) console.error(`[${raw.cmd}]`, describe(err));
          answer({ id: raw.id ?? -1, ok: false, error: describe(err) });
        },
      );
  });
}

/** Child side: an unsolicited message to the parent. */
export function emitEvent<E extends { event: string }>(event: E): void {
  if (process.connected) process.send!(event, undefined, undefined, () => undefined);
}

/** Parent side: typed requests to one child, with timeouts that name what hung. */
export class ChildChannel<C extends CommandMap, E extends { event: string }> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<(e: E) => void>();
  private exitReason: string | null = null;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (msg: ResponseMessage | E) => {
      if ('event' in msg) {
        for (const l of this.listeners) l(msg);
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.name}: ${msg.error ?? 'failed'}`));
    });
    // Failures to send are reported to the request that sent; nothing else may crash the orchestrator.
    proc.on('error', () => undefined);
    proc.once('exit', (code, signal) => {
      this.exitReason = `${this.name} exited (${signal ?? `code ${code}`})`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(this.exitReason));
      }
      this.pending.clear();
    });
  }

  get exited(): boolean {
    return this.exitReason !== null;
  }

  request<K extends keyof C & string>(cmd: K, args: C[K]['args'], timeoutMs = 30_000): Promise<C[K]['result']> {
    if (this.exitReason) return Promise.reject(new Error(`${this.exitReason}; cannot send '${cmd}'`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to '${cmd}' within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies RequestMessage, undefined, undefined, (err) => {
        if (!err || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name}: could not send '${cmd}': ${err.message}`));
      });
    });
  }

  /** Fire and forget (no answer): for frequent messages such as flow-control credit. */
  notify<K extends keyof C & string>(cmd: K, args: C[K]['args']): void {
    if (!this.exitReason && this.proc.connected)
      this.proc.send({ cmd, args } satisfies RequestMessage, undefined, undefined, () => undefined);
  }

  onEvent(listener: (e: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first event matching `pred`, or an error naming the wait after `timeoutMs` or when the child exits. */
  waitForEvent<T extends E>(pred: (e: E) => e is T, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        off();
        this.proc.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (pred(e)) {
          done();
          resolve(e);
        }
      });
      const onExit = () => {
        done();
        reject(new Error(`${this.exitReason ?? `${this.name} exited`} before ${what}`));
      };
      this.proc.once('exit', onExit);
    });
  }
}
