/**
 * The publisher's `fetch`: the caller's (or the global one), with every
 * failure that never reached the API, or never came back from it, marked as a
 * TransportFailure. Those, and only those of the transport, are safe to
 * retry under the same idempotency key (retry.ts).
 */

/** Statuses a proxy in front of the API answers on its own when the API is down or restarting. */
const gatewayStatuses = new Set([502, 503, 504]);

/** The request got no answer from the API: the network failed, or a proxy answered 502/503/504 without a tRPC body. */
export class TransportFailure extends Error {
  override readonly name = 'TransportFailure';
  /** The proxy's status; undefined when no response arrived at all. */
  readonly status: number | undefined;

  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

export function markingTransportFailures(fetchImpl: typeof fetch): typeof fetch {
  return async (input, init) => {
    let response: Response;
    try {
      response = await fetchImpl(input, init);
    } catch (cause) {
      throw new TransportFailure(`no answer: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, { cause });
    }
    if (gatewayStatuses.has(response.status) && !(await isTrpcError(response))) {
      void response.body?.cancel().catch(() => undefined);
      throw new TransportFailure(`a proxy answered ${response.status} ${response.statusText}`.trimEnd(), response.status);
    }
    return response;
  };
}

/** Whether the body is the API's own error envelope (`{ error: ... }`), which tRPC reads and the retry policy judges by its code. */
async function isTrpcError(response: Response): Promise<boolean> {
  try {
    const body: unknown = await response.clone().json();
    return typeof body === 'object' && body !== null && 'error' in body;
  } catch {
    return false;
  }
}
