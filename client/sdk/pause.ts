/**
 * A wait that can be cut short: for `ms` milliseconds, or (null) until
 * `end()`. It only ever resolves, so nobody is left with an unhandled rejection.
 */
export class Pause {
  readonly done: Promise<void>;
  private release!: () => void;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number | null) {
    this.done = new Promise<void>((resolve) => {
      this.release = resolve;
    });
    if (ms !== null) this.timer = setTimeout(() => this.release(), ms);
  }

  end(): void {
    clearTimeout(this.timer);
    this.release();
  }
}
