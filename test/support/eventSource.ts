/**
 * A minimal EventSource for Node.js 20 (which has none) on top of fetch's
 * streaming body, as far as tRPC's httpSubscriptionLink and the SDK rely on
 * it, following the HTML standard's processing model: `Last-Event-ID` on
 * every reconnect, reconnection after the stream ends or the network fails
 * (every `reconnectMs`, or the stream's `retry:`), and a failed connection
 * (CLOSED, no reconnect) on a status other than 200 or a type other than
 * text/event-stream. `init.headers` (not in the standard, as the `eventsource`
 * package's `fetch` option allows) adds request headers: `Authorization`.
 */

interface SseEvent {
  type: string;
  data: string;
  lastEventId: string;
  /** Set on `error` events of a failed connection: the HTTP status and body the server answered. */
  status?: number;
  body?: string;
}

type Listener = (event: SseEvent) => void;

export interface TestEventSourceInit {
  withCredentials?: boolean;
  headers?: Record<string, string>;
}

export class TestEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;

  /** The reconnection time before a `retry:` field sets another (the standard leaves it to the browser; short for tests). */
  static reconnectMs = 50;
  /** Every instance ever made, for tests to look at. */
  static readonly instances: TestEventSource[] = [];

  readyState = 0;
  readonly url: string;
  readonly withCredentials: boolean;
  /** How many requests this source made (the first, and each reconnect). */
  connects = 0;
  /** The `Last-Event-ID` each request carried (undefined: none). */
  readonly sentLastEventIds: (string | undefined)[] = [];
  onopen: Listener | null = null;
  onmessage: Listener | null = null;
  onerror: Listener | null = null;

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly headers: Record<string, string>;
  private lastEventId = '';
  private reconnectMs = TestEventSource.reconnectMs;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(url: string | URL, init?: TestEventSourceInit) {
    this.url = String(url);
    this.withCredentials = init?.withCredentials ?? false;
    this.headers = { ...init?.headers };
    TestEventSource.instances.push(this);
    void this.connect();
  }

  addEventListener(type: string, listener: Listener) {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener) {
    this.listeners.get(type)?.delete(listener);
  }

  close() {
    this.readyState = this.CLOSED;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.abort = null;
  }

  /** Cuts the current request as a network failure would: the source reconnects (with Last-Event-ID). */
  drop() {
    const abort = this.abort;
    if (!abort || this.readyState === this.CLOSED) return;
    abort.abort();
    this.abort = null;
    this.reestablish(abort, true);
  }

  private dispatch(event: SseEvent) {
    const handler =
      event.type === 'open' ? this.onopen : event.type === 'message' ? this.onmessage : event.type === 'error' ? this.onerror : null;
    handler?.(event);
    for (const listener of [...(this.listeners.get(event.type) ?? [])]) listener(event);
  }

  private async connect() {
    if (this.readyState === this.CLOSED) return;
    const abort = new AbortController();
    this.abort = abort;
    this.connects++;
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...this.headers };
    if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    this.sentLastEventIds.push(this.lastEventId === '' ? undefined : this.lastEventId);
    let response: Response;
    try {
      response = await fetch(this.url, { headers, signal: abort.signal });
    } catch {
      return this.reestablish(abort);
    }
    if (abort.signal.aborted) return;
    const type = response.headers.get('content-type') ?? '';
    if (response.status !== 200 || !type.toLowerCase().startsWith('text/event-stream')) {
      const body = await response.text().catch(() => '');
      return this.fail(response.status, body);
    }
    this.readyState = this.OPEN;
    this.dispatch({ type: 'open', data: '', lastEventId: this.lastEventId });
    try {
      await this.read(response.body!, abort);
    } catch {
      // The network failed mid-stream: reconnect, as when it ends.
    }
    this.reestablish(abort);
  }

  private fail(status: number, body: string) {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.abort = null;
    this.dispatch({ type: 'error', data: '', lastEventId: this.lastEventId, status, body });
  }

  /** Reconnects after `reconnectMs`, unless the request was aborted by us (`dropped`: on purpose, to reconnect) or the source closed. */
  private reestablish(abort: AbortController, dropped = false) {
    if ((abort.signal.aborted && !dropped) || this.readyState === this.CLOSED) return;
    this.readyState = this.CONNECTING;
    this.dispatch({ type: 'error', data: '', lastEventId: this.lastEventId });
    if (this.readyState === this.CLOSED) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.reconnectMs);
  }

  /** The standard's event stream interpretation. */
  private async read(body: ReadableStream<Uint8Array>, abort: AbortController) {
    const decoder = new TextDecoder();
    let buffer = '';
    let data = '';
    let eventType = '';
    let sawCr = false;
    const reader = body.getReader();
    abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
    const line = (text: string) => {
      if (text === '') {
        if (data !== '') {
          const event = {
            type: eventType || 'message',
            data: data.endsWith('\n') ? data.slice(0, -1) : data,
            lastEventId: this.lastEventId,
          };
          if (this.readyState !== this.CLOSED) this.dispatch(event);
        }
        data = '';
        eventType = '';
        return;
      }
      if (text.startsWith(':')) return;
      const colon = text.indexOf(':');
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? '' : text.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') eventType = value;
      else if (field === 'data') data += `${value}\n`;
      else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.reconnectMs = Number(value);
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done || abort.signal.aborted) return;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c === '\n' && sawCr) {
          sawCr = false;
          start = i + 1;
          continue;
        }
        sawCr = false;
        if (c === '\n' || c === '\r') {
          sawCr = c === '\r';
          line(buffer.slice(start, i));
          if (this.readyState === this.CLOSED) return;
          start = i + 1;
        }
      }
      buffer = buffer.slice(start);
    }
  }
}
