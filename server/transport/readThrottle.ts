/** What an incoming frame is; each kind pays one token of the connection's budget. */
export const FrameKind = { text: 0, binary: 1, ping: 2, pong: 3 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/**
 * Frames a paused connection may hold. ws goes on emitting the frames of the
 * chunk it is parsing when the socket is paused (a socket read is at most
 * 64 KiB, and a client frame at least 6 bytes: fewer than 11 000), and
 * nothing more until reading resumes; past this only a broken reader could
 * have sent them, and the connection is closed.
 */
const MAX_HELD_FRAMES = 16_384;

const NO_FRAME = Buffer.alloc(0);

/**
 * One episode of a connection over its incoming budget: from the first frame
 * its bucket could not pay for until the bucket is back to half full. While
 * `paused`, the server does not read the socket (the kernel's buffers push
 * back on the sender) and holds, in order, the few frames ws still emitted;
 * one timer pays for them as tokens come back, then reading resumes. Exists
 * only for a throttled connection: an idle one holds none.
 */
export class ReadThrottle {
  paused = false;
  /** Pays for the held frames once a token is back; armed only while paused. */
  timer: NodeJS.Timeout | null = null;
  private frames: Buffer[] = [];
  private kinds: FrameKind[] = [];
  /** Index of the oldest frame not yet handed on. */
  private next = 0;

  constructor(
    /** When the episode started (ms, performance.now()): the connection is closed if it lasts too long. */
    readonly since: number,
  ) {}

  /** Holds a frame until its turn; false (not held) past the bound. */
  hold(data: Buffer, kind: FrameKind): boolean {
    if (this.frames.length - this.next >= MAX_HELD_FRAMES) return false;
    this.frames.push(data);
    this.kinds.push(kind);
    return true;
  }

  get isEmpty(): boolean {
    return this.next === this.frames.length;
  }

  /** The kind of the oldest held frame; read it before `shift`. */
  get nextKind(): FrameKind {
    return this.kinds[this.next]!;
  }

  /** Hands on the oldest held frame. */
  shift(): Buffer {
    const data = this.frames[this.next]!;
    this.frames[this.next] = NO_FRAME;
    this.next++;
    if (this.next === this.frames.length) this.drop();
    return data;
  }

  /** Stops the timer and drops what is held (the connection ended). */
  clear() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.drop();
  }

  private drop() {
    this.frames = [];
    this.kinds = [];
    this.next = 0;
  }
}
