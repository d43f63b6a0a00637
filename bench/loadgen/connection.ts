import WebSocket from 'ws';
import type { ClientSpec } from '../peers';
import type { Dialect, DialectConn } from './dialects/dialect';
import type { SubSpec } from './protocol';

/**
 * One client connection: a raw `ws` socket, set up by the peer's dialect, then
 * following its event streams (stream 0: the topic; stream 1: notifications)
 * by the last seq seen of each.
 */
export class Connection implements DialectConn {
  ws: WebSocket | null = null;
  pending = 0;
  isReady = false;
  /** Last seq seen on stream 0 (the topic) and stream 1 (notifications). */
  last0 = 0;
  last1 = 0;
  /** Close code when the server closed it after it was ready. */
  closedWith: number | null = null;
  private settle: ((error: string | null) => void) | null = null;

  constructor(
    readonly index: number,
    readonly token: string,
    readonly topic: string,
    readonly subs: readonly SubSpec[],
    /** Source address of the socket (default: the system's choice, 127.0.0.1). */
    private readonly localAddress?: string,
  ) {}

  /**
   * Opens and subscribes; resolves to null once every subscription is live, or
   * to the reason it failed (never rejects).
   */
  open(
    dialect: Dialect,
    wsUrl: string,
    client: ClientSpec,
    timeoutMs: number,
    onFrame: (conn: Connection, data: Buffer) => void,
  ): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.fail(`not subscribed within ${timeoutMs} ms`), timeoutMs);
      this.settle = (error) => {
        clearTimeout(timer);
        this.settle = null;
        resolve(error);
      };
      const ws = new WebSocket(dialect.url(wsUrl, this.token, client), {
        perMessageDeflate: client.perMessageDeflate ?? false,
        skipUTF8Validation: true,
        handshakeTimeout: timeoutMs,
        ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      });
      this.ws = ws;
      ws.on('open', () => dialect.onOpen(this));
      ws.on('message', (data: Buffer) => onFrame(this, data));
      ws.on('error', (err) => this.fail(err.message));
      ws.on('close', (code, reason) => {
        if (this.isReady) this.closedWith = code;
        else this.fail(`closed ${code} ${String(reason)}`);
      });
    });
  }

  send(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  ready(): void {
    this.isReady = true;
    this.settle?.(null);
  }

  fail(reason: string): void {
    if (!this.settle) return;
    this.settle(reason);
    this.ws?.terminate();
  }

  terminate(): void {
    this.ws?.removeAllListeners('close');
    this.ws?.terminate();
  }
}
