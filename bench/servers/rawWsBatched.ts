import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { RealtimeEvent } from '../../shared/events';
import { isCriticalEvent } from '../../shared/priority';

/** A joined socket (rawWs.ts), with the TCP socket under it, corked around a batch's frames. */
export interface Subscriber {
  ws: WebSocket;
  socket: Duplex;
}

/**
 * The `raw-batched` peer's delivery (see rawWs.ts): our batching rule without
 * the rest of our server. Per topic, a batch is written a window after the
 * topic's last one (less the time that one took to write, as ours: the window
 * bounds the wait until every subscriber has it), so the first event of a
 * quiet topic goes at once; or at once when a critical event
 * (`isCriticalEvent`, as ours) arrives, the batch before it included, so
 * priority never reorders a topic. A batch goes to each subscriber as its
 * events' frames (the raw frames the load generator already reads), written
 * corked: one write per subscriber per batch. A window of 0 writes every
 * event at once (still corked, one event a batch).
 */
export class TopicBatches {
  private readonly pending = new Map<string, { frames: Buffer[]; timer: NodeJS.Timeout | null }>();
  /** How long writing each topic's last batch to every subscriber took (ms). */
  private readonly lastWriteMs = new Map<string, number>();
  /** When each topic's last batch went out (performance.now() ms). */
  private readonly lastFlushAt = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly subscribersOf: (topic: string) => ReadonlySet<Subscriber> | undefined,
  ) {}

  /** One event of `topic`, serialized once (`frame`) for all its subscribers. */
  add(topic: string, event: RealtimeEvent, frame: Buffer): void {
    let batch = this.pending.get(topic);
    if (!batch) {
      batch = { frames: [], timer: null };
      this.pending.set(topic, batch);
    }
    batch.frames.push(frame);
    if (this.windowMs === 0 || isCriticalEvent(event)) {
      this.flush(topic);
      return;
    }
    if (batch.timer) return;
    // As ours: a batch goes out a window after the topic's last one, so a quiet topic's first event goes at once.
    const now = performance.now();
    const dueAt = (this.lastFlushAt.get(topic) ?? Number.NEGATIVE_INFINITY) + this.windowMs - (this.lastWriteMs.get(topic) ?? 0);
    if (dueAt <= now) this.flush(topic);
    else batch.timer = setTimeout(() => this.flush(topic), dueAt - now);
  }

  private flush(topic: string) {
    const batch = this.pending.get(topic);
    if (!batch) return;
    this.pending.delete(topic);
    if (batch.timer) clearTimeout(batch.timer);
    const startedAt = performance.now();
    this.lastFlushAt.set(topic, startedAt);
    for (const { ws, socket } of this.subscribersOf(topic) ?? []) {
      socket.cork();
      for (const frame of batch.frames) ws.send(frame, { binary: false });
      socket.uncork();
    }
    this.lastWriteMs.set(topic, performance.now() - startedAt);
  }
}
