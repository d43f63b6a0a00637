import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config';
import { createAttemptCounter } from './attemptCounter';
import { createClientAddress } from './clientAddress';

interface UpgradeGuardOptions {
  /** Accepted sockets from one client address not yet authenticated; 0: no bound. */
  maxPendingPerIp: number;
  /** Upgrade attempts (refused ones included) per client address per minute; 0: no bound. */
  attemptsPerIpPerMinute: number;
  /** Open WebSocket connections on this node; 0: no bound. */
  maxConnections: number;
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For names the client. */
  trustProxy: string[];
  /** Origins a browser may connect from; null: any. */
  allowedOrigins: string[] | null;
  /** The node's open WebSocket connections (authenticated or not). */
  openConnections: () => number;
  /** Milliseconds; for tests. */
  now?: () => number;
}

export type UpgradeRefusal = 'too_many_attempts' | 'origin_not_allowed' | 'server_full' | 'too_many_pending';

type Admission = { ok: true; address: string } | { ok: false; status: number; text: string; reason: UpgradeRefusal };

const MINUTE_MS = 60_000;

// One object per refusal, shared: a flood of refused upgrades allocates nothing for its answers.
const refused = {
  too_many_attempts: { ok: false, status: 429, text: 'Too Many Requests', reason: 'too_many_attempts' },
  origin_not_allowed: { ok: false, status: 403, text: 'Forbidden', reason: 'origin_not_allowed' },
  server_full: { ok: false, status: 503, text: 'Service Unavailable', reason: 'server_full' },
  too_many_pending: { ok: false, status: 429, text: 'Too Many Requests', reason: 'too_many_pending' },
} as const satisfies Record<UpgradeRefusal, Admission>;

/**
 * Decides, before any WebSocket is set up, whether an upgrade request may
 * have one: its Origin, the node's connection bound, and per client address
 * a budget of attempts per minute and of sockets that have not authenticated
 * yet (each costs memory until AUTH_TIMEOUT_MS closes it; a valid token is
 * what lifts a socket out of that count).
 *
 * Every accepted socket is pending until `authenticated` or `closed` is
 * called for it, exactly once; the per-address maps only hold addresses with
 * pending sockets or attempts in the last two minutes.
 */
export function createUpgradeGuard(options: UpgradeGuardOptions) {
  const { maxPendingPerIp, attemptsPerIpPerMinute, maxConnections, openConnections } = options;
  const now = options.now ?? Date.now;
  const clientAddress = createClientAddress(options.trustProxy);
  const origins = options.allowedOrigins ? new Set(options.allowedOrigins.map(normalizedOrigin)) : null;
  const attempts = attemptsPerIpPerMinute > 0 ? createAttemptCounter(MINUTE_MS, now) : null;
  const pending = new Map<string, number>();
  let pendingTotal = 0;
  // Frees the attempts of an address that went quiet, without waiting for the next upgrade.
  const rotation = attempts ? setInterval(attempts.rotate, MINUTE_MS) : null;
  rotation?.unref();

  function release(address: string) {
    const count = pending.get(address);
    if (count === undefined) return;
    pendingTotal--;
    if (count > 1) pending.set(address, count - 1);
    else pending.delete(address);
  }

  return {
    admit(req: IncomingMessage): Admission {
      const address = clientAddress(req);
      // Counted before any check: a client that keeps knocking while refused stays refused.
      if (attempts && attempts.hit(address) > attemptsPerIpPerMinute) return refused.too_many_attempts;
      if (origins && !originAllowed(origins, req)) return refused.origin_not_allowed;
      if (maxConnections > 0 && openConnections() >= maxConnections) return refused.server_full;
      if (maxPendingPerIp > 0) {
        const count = pending.get(address) ?? 0;
        if (count >= maxPendingPerIp) return refused.too_many_pending;
        pending.set(address, count + 1);
        pendingTotal++;
      }
      return { ok: true, address };
    },

    /** The socket admitted for `address` presented a valid token: it no longer counts as pending. */
    authenticated(address: string): void {
      release(address);
    },

    /** A socket admitted for `address` closed; `wasPending`: `authenticated` was never called for it. */
    closed(address: string, wasPending: boolean): void {
      if (wasPending) release(address);
    },

    /** Sizes of the per-address state: all 0 once every socket closed and two minutes passed. */
    stats() {
      return { pending: pendingTotal, pendingAddresses: pending.size, attemptAddresses: attempts?.keys() ?? 0 };
    },

    close(): void {
      if (rotation) clearInterval(rotation);
      attempts?.clear();
      pending.clear();
      pendingTotal = 0;
    },
  };
}

/**
 * A request without Origin is not from a browser (a backend, a CLI) and the
 * Origin check protects browsers only: a page on another site must not open a
 * socket with its visitor's credentials. Browsers send the origin serialized
 * (lower case, no default port); hybi-08 clients sent Sec-WebSocket-Origin.
 */
function originAllowed(origins: ReadonlySet<string>, req: IncomingMessage): boolean {
  const origin = req.headers.origin ?? req.headers['sec-websocket-origin'];
  if (origin === undefined) return true;
  return typeof origin === 'string' && origins.has(origin.toLowerCase());
}

/** `HTTPS://App.Example.org:443/` is allowed as `https://app.example.org`, the form a browser sends. */
function normalizedOrigin(entry: string): string {
  let origin = 'null';
  try {
    origin = new URL(entry).origin;
  } catch {
    // Not a URL at all: refused below, as an opaque origin is.
  }
  if (origin === 'null')
    throw new ConfigError(`ALLOWED_ORIGINS: "${entry}" is not an origin (scheme://host[:port], such as https://app.example.org)`);
  return origin;
}
