import type { RealtimeEvent } from '../../shared/events';
import { isCriticalEvent } from '../../shared/priority';
import type { EventEngine } from './engine';

/** Anything that takes the batches of a topic. */
export interface BatchReceiver {
  receive(batch: readonly RealtimeEvent[]): void;
}

/**
 * One per topic with local subscribers on this node: a single engine
 * subscription and a single batch timer, whatever the number of subscribers.
 * Events wait at most the batch window; a critical event flushes what is
 * pending at once, itself included, so priority never reorders the topic.
 */
export class TopicFanout {
  readonly receivers = new Set<BatchReceiver>();
  private pending: RealtimeEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly stopEngine: () => void;

  constructor(
    engine: EventEngine,
    topic: string,
    private readonly batchWindowMs: number,
  ) {
    this.stopEngine = engine.subscribe(topic, (event) => this.onEvent(event));
  }

  private onEvent(event: RealtimeEvent) {
    this.pending.push(event);
    if (this.batchWindowMs === 0 || isCriticalEvent(event)) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.batchWindowMs);
    }
  }

  flush() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const receiver of this.receivers) receiver.receive(batch);
  }

  /** Stops the timer and the engine subscription; pending events are dropped with the last receiver. */
  dispose() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.stopEngine();
  }
}
