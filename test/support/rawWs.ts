import type { Socket } from 'node:net';
import superjson from 'superjson';
import WebSocket, { type ClientOptions } from 'ws';
import type { RealtimeEvent } from '../../shared/events';
import { Changes } from './wait';

/**
 * A plain `ws` client speaking the tRPC WebSocket protocol by hand, for what
 * the tRPC client hides: close codes, malformed frames, frame sizes, pings,
 * the exact frames (`params.lastEventId`, tracked ids).
 */

export interface CloseInfo {
  code: number;
  reason: string;
}

/** The error of a tRPC response, with superjson's `{ json }` wrapper removed. */
export interface FrameError {
  message: string;
  code: number;
  data?: { code?: string; reason?: string | null; path?: string; httpStatus?: number };
}

/** A server frame as parsed JSON (tRPC responses are objects). */
export interface Frame {
  id?: number | string | null;
  method?: string;
  result?: { type: 'started' | 'stopped' | 'data'; id?: string; data?: unknown };
  error?: { json?: FrameError } & Partial<FrameError>;
}

/** One event of a data frame: the frame's tracked id and its superjson-decoded payload, `{ id, data: event }`. */
export interface Delivery {
  trackedId: string | undefined;
  payload: { id: string; data: RealtimeEvent };
}

/** The error of a frame, unwrapped from superjson, or undefined. */
export function errorOf(frame: Frame): FrameError | undefined {
  if (!frame.error) return undefined;
  return (frame.error.json ?? frame.error) as FrameError;
}

function deliveryOf(frame: Frame): Delivery | undefined {
  if (frame.result?.type !== 'data') return undefined;
  return { trackedId: frame.result.id, payload: superjson.deserialize(frame.result.data as never) };
}

export class RawWs {
  /** Every text frame received, parsed (non-JSON frames are kept as `{ method: '<text>' }`). */
  readonly frames: Frame[] = [];
  /** Protocol-level pings received from the server. */
  pings = 0;
  /** Set once the close event fired. */
  closeInfo: CloseInfo | null = null;
  readonly closed: Promise<CloseInfo>;
  private readonly changes = new Changes();

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.changes.changed();
      });
    });
    ws.on('message', (data) => {
      const text = data.toString();
      let frame: Frame;
      try {
        frame = JSON.parse(text) as Frame;
      } catch {
        frame = { method: text };
      }
      this.frames.push(frame);
      this.changes.changed();
    });
    ws.on('ping', () => {
      this.pings++;
      this.changes.changed();
    });
    // A client-side socket error is followed by a close event, which is what tests look at.
    ws.on('error', () => undefined);
  }

  /** Opens a connection and resolves once it is open; rejects if the upgrade fails. */
  static open(url: string, options?: ClientOptions): Promise<RawWs> {
    const ws = new WebSocket(url, options);
    const client = new RawWs(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** The TCP socket under ws (kept as `_socket`): to pause reading, or count the bytes read. */
  get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends an object as JSON, or a string as it is. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame of a `?connectionParams=1` connection. */
  sendConnectionParams(data: Record<string, string> | null): void {
    this.send({ method: 'connectionParams', data });
  }

  /** Sends one request (plain JSON input, which the server accepts besides superjson's `{ json }`). */
  request(id: number, method: 'query' | 'mutation' | 'subscription', path: string, input?: unknown): void {
    this.send({ id, method, params: { path, input } });
  }

  /**
   * Resolves with `check()`'s first non-undefined value, re-evaluated on every
   * frame, ping and close. Rejects when the connection closes first or after
   * the overall bound, naming what it waited for.
   */
  until<T>(check: () => T | undefined, what: string): Promise<T> {
    return this.changes.until(
      () => {
        const value = check();
        if (value !== undefined) return value;
        if (this.closeInfo)
          throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}`);
        return undefined;
      },
      () => `timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`,
    );
  }

  /** The first received frame matching `predicate`. */
  frame(predicate: (frame: Frame) => boolean, what = 'a matching frame'): Promise<Frame> {
    return this.until(() => this.frames.find(predicate), what);
  }

  /** The final answer to request `id`: its data, `started`, or its error. */
  response(id: number | null): Promise<Frame> {
    return this.frame(
      (f) =>
        f.id === id && (f.error !== undefined || f.result?.type === 'started' || (f.result?.type === 'data' && f.result.id === undefined)),
      `the response to request ${id}`,
    );
  }

  /** The error answer to request `id` (null for errors not tied to a request). */
  async errorResponse(id: number | null): Promise<FrameError> {
    const frame = await this.frame((f) => f.id === id && f.error !== undefined, `an error for request ${id}`);
    return errorOf(frame)!;
  }

  /** The deliveries received so far on subscription `id`, in arrival order. */
  deliveries(id: number): Delivery[] {
    return this.frames.filter((f) => f.id === id).flatMap((f) => deliveryOf(f) ?? []);
  }

  /** The events received so far on subscription `id`. */
  events(id: number): RealtimeEvent[] {
    return this.deliveries(id).map((d) => d.payload.data);
  }

  /** Waits until subscription `id` has received at least `n` events. */
  waitForEvents(id: number, n: number) {
    return this.until(() => {
      const got = this.events(id);
      return got.length >= n ? got : undefined;
    }, `${n} events on subscription ${id}`);
  }

  /** Waits until the server has pinged at least `n` times. */
  waitForPings(n: number): Promise<number> {
    return this.until(() => (this.pings >= n ? this.pings : undefined), `${n} pings`);
  }

  /** Closes (if still open) and waits for the close event. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close();
    const timer = setTimeout(() => this.ws.terminate(), 2_000);
    await this.closed;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose]() {
    await this.close();
  }
}
