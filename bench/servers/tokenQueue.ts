/**
 * Text chunks pushed by the benchmark's publisher and pulled by a chat reply
 * (our ChatAgent's async iterable). Ends by throwing when `signal` aborts, so
 * the server never publishes the whole accumulated reply (full of markers) as
 * a final chat message.
 */
export class TokenQueue {
  private readonly chunks: string[] = [];
  private wake: (() => void) | null = null;

  push(chunk: string): void {
    this.chunks.push(chunk);
    this.wake?.();
  }

  async *drain(signal: AbortSignal): AsyncGenerator<string> {
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        while (this.chunks.length > 0) yield this.chunks.shift()!;
        if (signal.aborted) throw new Error('bench: reply stopped');
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
