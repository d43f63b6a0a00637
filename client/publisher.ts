import { createTRPCClient, httpLink, retryLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import { isRetryable, retryDelay } from './publish/retry';
import { markingTransportFailures } from './publish/transport';
import type { AppRouter } from './sdk/types';

/**
 * Publishing from a TypeScript backend over HTTP (the `service` role's
 * mutations), as the Python publisher does: every publish carries an
 * `idempotencyKey` (the caller's, or a new `crypto.randomUUID()` per call) and
 * is retried under that same key when it may not have reached the store or
 * its answer was lost, so a retry never publishes twice. Inputs and results
 * are inferred from AppRouter.
 */

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

export type InvestigationUpdateInput = Inputs['investigation']['notifyUpdate'];
export type AnomalyInput = Inputs['investigation']['notifyAnomaly'];
export type AnalysisUpdateInput = Inputs['analysis']['notifyUpdate'];
export type NotificationInput = Inputs['notification']['send'];

/** The token of a `service` principal: a string, or a function asked before every attempt. */
export type PublisherAuth = { token: string; getToken?: never } | { getToken: () => string | Promise<string>; token?: never };

export type RealtimePublisherOptions = PublisherAuth & {
  /** The server: `http(s)://host:port` (its `/api/v1/trpc` endpoint, or a `ws(s)://…/api/v1/ws` URL, are taken too). */
  url: string;
  /** Retries of a publish that failed in a way that is safe to retry (default 3; 0: none). */
  retries?: number;
  /** Upper bound of the first retry's delay; retry n waits uniformly in [0, retryDelayMs * 2^n] (default 200). */
  retryDelayMs?: number;
  /** The fetch to send requests with (default: the global one). */
  fetch?: typeof fetch;
};

/** Each resolves with what the mutation returns, or rejects with its TRPCClientError (`error.data.code`, `error.data.reason`). */
export interface RealtimePublisher {
  /** `investigation.notifyUpdate`: an `investigation_update`. */
  notifyInvestigationUpdate(input: InvestigationUpdateInput): Promise<Outputs['investigation']['notifyUpdate']>;
  /** `investigation.notifyAnomaly`: an `anomaly_detected`. */
  notifyAnomalyDetected(input: AnomalyInput): Promise<Outputs['investigation']['notifyAnomaly']>;
  /** `analysis.notifyUpdate`: an `analysis_update`. */
  notifyAnalysisUpdate(input: AnalysisUpdateInput): Promise<Outputs['analysis']['notifyUpdate']>;
  /** `notification.send`: one notification to `userIds`, or `broadcast: true`; one key for the whole call. */
  sendNotification(input: NotificationInput): Promise<Outputs['notification']['send']>;
}

export function createRealtimePublisher(options: RealtimePublisherOptions): RealtimePublisher {
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 200;
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be a whole number >= 0, got ${retries}`);
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0)
    throw new RangeError(`retryDelayMs must be a finite number >= 0, got ${retryDelayMs}`);
  const { token, getToken } = options;
  const bearer = getToken ?? (() => token);
  const trpc = createTRPCClient<AppRouter>({
    links: [
      // The same operation again: the same input, so the same key.
      retryLink({
        retry: ({ error, attempts }) => attempts <= retries && isRetryable(error),
        retryDelayMs: (attempts) => retryDelay(attempts - 1, retryDelayMs),
      }),
      httpLink({
        url: trpcUrl(options.url),
        transformer: superjson,
        fetch: markingTransportFailures(options.fetch ?? ((input, init) => globalThis.fetch(input, init))),
        headers: async () => ({ authorization: `Bearer ${await bearer()}` }),
      }),
    ],
  });
  return {
    notifyInvestigationUpdate: (input) => trpc.investigation.notifyUpdate.mutate(keyed(input)),
    notifyAnomalyDetected: (input) => trpc.investigation.notifyAnomaly.mutate(keyed(input)),
    notifyAnalysisUpdate: (input) => trpc.analysis.notifyUpdate.mutate(keyed(input)),
    sendNotification: (input) => trpc.notification.send.mutate(keyed(input)),
  };
}

/** The input with the caller's key, or a fresh one: one key per logical publish, kept by its retries. */
function keyed<T extends { idempotencyKey?: string | undefined }>(input: T): T {
  return { ...input, idempotencyKey: input.idempotencyKey ?? globalThis.crypto.randomUUID() };
}

/** `…/api/v1/trpc` of the server `url` names (as the Python publisher reads it). */
function trpcUrl(url: string): string {
  let base = url.replace(/\/+$/, '').replace(/^ws/, 'http');
  for (const suffix of ['/api/v1/ws', '/api/v1/trpc']) if (base.endsWith(suffix)) base = base.slice(0, -suffix.length);
  return `${base}/api/v1/trpc`;
}
