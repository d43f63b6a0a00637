import { CloseCode, reconnectableCloseCodes } from '../../shared/closeCodes';
import { type Backoff, backoffDelay } from './backoff';

/** Why a connection (or an attempt to open one) ended. `code` is null when no socket was involved (getToken failed). */
export interface Disconnect {
  code: number | null;
  reason: string;
}

export type ReconnectDecision =
  /** Wait `delayMs`, then connect again (with a token fresh from getToken). */
  | { kind: 'retry'; delayMs: number }
  /** Reconnecting would not help: surface `closed` and wait for `reconnect()`. */
  | { kind: 'stop' };

/**
 * What to do after a disconnect, given how many retries failed since the last
 * connection the server accepted (`attempt`, 0-based). The close codes that
 * call for a reconnect are the contract's (shared/closeCodes.ts); 4001,
 * 4003, 4008 and 1008 have their own rules.
 */
export function decideReconnect(disconnect: Disconnect, attempt: number, backoff: Backoff, random?: () => number): ReconnectDecision {
  const { code } = disconnect;
  // Another connection of this user must end before this one is admitted:
  // trying sooner than the longest delay only adds load.
  // Kept over the incoming budget (1008): slow down as much as we can, then resume.
  if (code === CloseCode.TOO_MANY_CONNECTIONS || code === CloseCode.POLICY_VIOLATION) return { kind: 'retry', delayMs: backoff.maxMs };
  // The next attempt asks getToken first; one that returns the refused token
  // again is stopped before it connects (see the connection controller). A
  // disconnect by an operator (4003) counts as a refusal of the token it came with.
  if (code === CloseCode.UNAUTHORIZED || code === CloseCode.DISCONNECTED)
    return { kind: 'retry', delayMs: backoffDelay(attempt, backoff, random) };
  // No socket at all (getToken or the url function failed): try again later.
  if (code === null || reconnectableCloseCodes.has(code)) return { kind: 'retry', delayMs: backoffDelay(attempt, backoff, random) };
  return { kind: 'stop' };
}
