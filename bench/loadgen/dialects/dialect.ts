import type { ClientSpec } from '../../peers';
import type { SubSpec } from '../protocol';

/** One connection as a dialect sees it while it sets up. */
export interface DialectConn {
  readonly token: string;
  readonly subs: readonly SubSpec[];
  send(text: string): void;
  /** Every subscription is live. */
  ready(): void;
  fail(reason: string): void;
  /** The dialect's own counter (answers still awaited). */
  pending: number;
}

/**
 * A peer's wire protocol, spoken by hand over a raw `ws` socket: the connect
 * URL, what to send once open, and what to do with frames that carry no event
 * marker (handshake answers, acks, pings).
 */
export interface Dialect {
  url(wsUrl: string, token: string, client: ClientSpec): string;
  onOpen(c: DialectConn): void;
  onControl(c: DialectConn, text: string): void;
}

export function withQuery(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
