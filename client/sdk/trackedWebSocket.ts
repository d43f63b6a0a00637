/**
 * The WebSocket class a client is given (the browser's, or `ws`'s in Node.js
 * 20), as far as the SDK relies on it. `ws`'s class fits without a cast.
 */
export interface WebSocketClass {
  new (
    url: string,
    protocols?: string | string[],
  ): {
    readonly readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
  };
  readonly CONNECTING: number;
  readonly OPEN: number;
  readonly CLOSING: number;
  readonly CLOSED: number;
}

/**
 * A subclass of `Base` that hands each new socket to `onCreate` before anyone
 * else sees it. tRPC's client neither reports which socket a close code
 * belongs to nor whether the server accepted it; listeners added first, from
 * the constructor, see all of that for every socket tRPC opens.
 */
export function trackedWebSocket(Base: WebSocketClass, onCreate: (socket: WebSocket) => void): typeof WebSocket {
  // tRPC needs the standard WebSocket interface, which both the browser's and `ws`'s implement.
  const Standard = Base as unknown as typeof WebSocket;
  return class TrackedWebSocket extends Standard {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      onCreate(this);
    }
  };
}
