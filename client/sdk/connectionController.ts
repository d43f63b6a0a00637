import { createWSClient, type TRPCWebSocketClient } from '@trpc/client';
import { CloseCode } from '../../shared/closeCodes';
import type { ErrorReason } from '../../shared/errors';
import type { ConnectionType } from '../../shared/paths';
import type { Backoff } from './backoff';
import { ConnectionStateStore } from './connectionState';
import { Pause } from './pause';
import { type Disconnect, decideReconnect } from './reconnectPolicy';
import { trackedWebSocket, type WebSocketClass } from './trackedWebSocket';

export interface ConnectionOptions {
  url: string | (() => string | Promise<string>);
  getToken: () => string | Promise<string>;
  WebSocket: WebSocketClass;
  backoff: Backoff;
  connectionType?: ConnectionType;
  /** Open no socket until a call needs one (tRPC's lazy mode): a client that starts on Server-Sent Events never needs one. */
  lazy?: boolean;
  /** Called after each attempt whose socket never opened, with how many such attempts came in a row; never once a socket opened. */
  onNeverOpened?: (inRow: number) => void;
}

/** What the SDK knows about one socket tRPC opened. */
interface SocketRecord {
  /** The token sent on it (in connectionParams). */
  token: string | null;
  opened: boolean;
  /** Its end was handled (browsers fire `error` and then `close` for one failure). */
  ended: boolean;
}

/** A 4001 with this reason says nothing about the token itself: it was not sent in time. */
const authTimeout: ErrorReason = 'auth_timeout';

/**
 * Owns the client's one WebSocket (tRPC's wsClient) and decides, after every
 * disconnect, whether and when to connect again.
 *
 * tRPC retries by itself after every close, with `retryDelayMs(attempt)`. Here
 * that delay is always 0 and the waiting happens in the `url` callback, which
 * tRPC awaits before each attempt: there the wait can depend on the close
 * code, be cut short by `reconnect()` or ended by `close()`, a fresh token is
 * fetched before the socket opens, and a token the server has just refused is
 * never sent again.
 */
export class ConnectionController {
  readonly states = new ConnectionStateStore({ status: 'connecting', attempt: 0 });
  readonly wsClient: TRPCWebSocketClient;

  /** Retries since the last connection the server accepted. */
  private failures = 0;
  /** What the next attempt waits for; null: go ahead. */
  private pause: Pause | null = null;
  private closing: Promise<void> | null = null;
  /** Ends when `close()` is called: whatever the next attempt awaits (getToken, the url) is abandoned then. */
  private readonly closeRequested = new Pause(null);
  /** The token of the last connection closed with 4001 (refused) or 4003 (disconnected by an operator), and that code. */
  private rejectedToken: string | null = null;
  private rejectedWith: number = CloseCode.UNAUTHORIZED;
  /** The token fetched for the socket being opened, sent as its connectionParams. */
  private pendingToken: string | null = null;
  /** The newest socket: only its events change the state. */
  private current: WebSocket | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  /** Attempts in a row whose socket never opened; -1 once any socket opened (no fallback after that). */
  private neverOpenedInRow = 0;
  /** The WebSocket was given up for another transport (suspend()): nothing here changes the state any more. */
  private suspended = false;

  constructor(private readonly options: ConnectionOptions) {
    this.wsClient = createWSClient({
      url: () => this.nextUrl(),
      connectionParams: () => ({ token: this.pendingToken ?? '' }),
      WebSocket: trackedWebSocket(options.WebSocket, (socket) => this.track(socket)),
      retryDelayMs: () => 0,
      ...(options.lazy ? { lazy: { enabled: true, closeMs: 0 } } : {}),
    });
  }

  get closedByApp(): boolean {
    return this.closing !== null;
  }

  /**
   * Connects now: skips the wait before the next attempt, or leaves a
   * `closed` state that was not caused by `close()`. Does nothing while
   * connecting or open.
   */
  reconnect(): void {
    if (this.closing) throw new Error('this realtime client was closed by close(); create a new one');
    const pause = this.pause;
    this.pause = null;
    pause?.end();
  }

  /** Closes the socket for good; subscriptions complete. */
  close(): Promise<void> {
    if (!this.closing) {
      // Set first: every callback still to come checks it.
      this.closing = Promise.resolve();
      this.closeRequested.end();
      clearTimeout(this.stableTimer);
      this.pause?.end();
      this.pause = null;
      this.states.set({ status: 'closed', code: 1000, reason: 'closed by the client' });
      this.closing = this.wsClient.close().catch(() => undefined);
    }
    return this.closing;
  }

  /**
   * Gives the WebSocket up for another transport (the SDK's fallback to
   * Server-Sent Events): no more attempts, and the state is no longer this
   * controller's. Not a `close()`: calls keep flowing, over the other transport.
   */
  suspend(): void {
    if (this.suspended) return;
    this.suspended = true;
    clearTimeout(this.stableTimer);
    const pause = this.pause;
    this.pause = null;
    pause?.end();
    this.wsClient.close().catch(() => undefined);
  }

  /** tRPC's `url` callback, awaited before every attempt to open a socket. */
  private async nextUrl(): Promise<string> {
    // The first attempt starts while createRealtimeClient runs: getToken is
    // called only after it returned, so listeners added then see every state.
    await Promise.resolve();
    for (;;) {
      while (this.pause) {
        const pause = this.pause;
        await pause.done;
        if (this.pause === pause) this.pause = null;
      }
      this.throwIfClosed();
      this.states.set({ status: 'connecting', attempt: this.failures });
      try {
        const token = await this.unlessClosed(this.options.getToken());
        if (token === this.rejectedToken) {
          // Sending it again would only be refused again, as often as the backoff allows;
          // after an operator's disconnect, it would undo what they did.
          this.stop(
            this.rejectedWith === CloseCode.DISCONNECTED
              ? { code: CloseCode.DISCONNECTED, reason: 'disconnected: getToken returned the token the server disconnected' }
              : { code: CloseCode.UNAUTHORIZED, reason: 'token_rejected: getToken returned the token the server refused' },
          );
          continue;
        }
        const url = await this.unlessClosed(typeof this.options.url === 'function' ? this.options.url() : this.options.url);
        this.pendingToken = token;
        return websocketUrl(url, this.options.connectionType);
      } catch (error) {
        if (!this.closing && !this.suspended) this.fail({ code: null, reason: `getToken or url failed: ${messageOf(error)}` });
        throw error;
      }
    }
  }

  private throwIfClosed() {
    if (this.closing) throw new Error('the realtime client was closed');
    if (this.suspended) throw new Error('the WebSocket was given up for another transport');
  }

  /**
   * The app's value, or a throw once `close()` is called first: tRPC's close
   * waits for the attempt in progress, which must not hang on a getToken that
   * never answers.
   */
  private async unlessClosed<T>(value: T | Promise<T>): Promise<T> {
    const closed = Symbol('closed');
    const result = await Promise.race([value, this.closeRequested.done.then(() => closed)]);
    this.throwIfClosed();
    // Not `closed`: that one only wins once `close()` was called, which throws above.
    return result as T;
  }

  private track(socket: WebSocket) {
    const record: SocketRecord = { token: this.pendingToken, opened: false, ended: false };
    this.current = socket;
    const onMessage = (event: MessageEvent) => {
      if (!provesAcceptance(event.data)) return;
      socket.removeEventListener('message', onMessage);
      if (socket === this.current) this.accepted();
    };
    socket.addEventListener('message', onMessage);
    socket.addEventListener('open', () => {
      record.opened = true;
      this.neverOpenedInRow = -1;
      if (socket !== this.current || this.closing || this.suspended) return;
      this.states.set({ status: 'open' });
      // A connection that stays up as long as the longest backoff is healthy,
      // even if it carries nothing that would prove it was accepted.
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        if (socket === this.current) this.accepted();
      }, this.options.backoff.maxMs);
    });
    socket.addEventListener('error', () => {
      // An open socket's error is followed by its close, which has the code.
      if (!record.opened) this.ended(socket, record, { code: 1006, reason: 'the connection could not be opened' });
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      this.ended(socket, record, { code: event.code, reason: event.reason || closeCodeMeaning(event.code) });
    });
  }

  private accepted() {
    clearTimeout(this.stableTimer);
    this.failures = 0;
  }

  private ended(socket: WebSocket, record: SocketRecord, disconnect: Disconnect & { code: number }) {
    if (record.ended) return;
    record.ended = true;
    if (socket !== this.current || this.closing || this.suspended) return;
    if (!record.opened && this.neverOpenedInRow >= 0) {
      this.neverOpenedInRow++;
      this.options.onNeverOpened?.(this.neverOpenedInRow);
      if (this.suspended) return;
    }
    clearTimeout(this.stableTimer);
    if ((disconnect.code === CloseCode.UNAUTHORIZED && disconnect.reason !== authTimeout) || disconnect.code === CloseCode.DISCONNECTED) {
      this.rejectedToken = record.token;
      this.rejectedWith = disconnect.code;
    }
    this.fail(disconnect);
  }

  /** Decides what follows a disconnect and shows it: a wait, or `closed`. */
  private fail(disconnect: Disconnect) {
    const attempt = this.failures++;
    const decision = decideReconnect(disconnect, attempt, this.options.backoff);
    if (decision.kind === 'stop') {
      this.stop({ code: disconnect.code ?? 1006, reason: disconnect.reason });
      return;
    }
    this.pause?.end();
    this.pause = new Pause(decision.delayMs);
    this.states.set({
      status: 'reconnecting',
      attempt: attempt + 1,
      nextDelayMs: decision.delayMs,
      code: disconnect.code,
      reason: disconnect.reason,
    });
  }

  /** Stops trying until `reconnect()`; subscriptions stay registered and resume then. */
  private stop(closed: { code: number; reason: string }) {
    this.pause?.end();
    this.pause = new Pause(null);
    this.states.set({ status: 'closed', ...closed });
  }
}

/**
 * Whether a frame shows that the server accepted the connection: only then
 * does it answer a request (`result`); a refused one gets `{ id: null, error }`.
 */
function provesAcceptance(data: unknown): boolean {
  if (typeof data !== 'string' || data === 'PONG' || data === 'PING') return false;
  try {
    const frame: unknown = JSON.parse(data);
    return typeof frame === 'object' && frame !== null && 'result' in frame;
  } catch {
    return false;
  }
}

/**
 * An absolute ws(s) URL: a path is taken relative to the page (a dashboard
 * served by the API itself connects to '/api/v1/ws'), http(s) becomes ws(s),
 * and the connection type goes in `connection_type`.
 */
function websocketUrl(url: string, connectionType: ConnectionType | undefined): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const parsed = new URL(url, base);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (connectionType) parsed.searchParams.set('connection_type', connectionType);
  return parsed.toString();
}

function closeCodeMeaning(code: number): string {
  switch (code) {
    case 1000:
      return 'normal closure';
    case 1001:
      return 'the server is going away';
    case 1005:
      return 'closed without a status code';
    case 1006:
      return 'the connection was lost';
    case 1012:
      return 'the server is restarting';
    default:
      return `closed with code ${code}`;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
