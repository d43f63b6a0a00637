import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/**
 * The `reason` label of `websocket_errors_total`: the original service's coarse reasons,
 * which existing dashboards and alerts group by. Every error the server
 * answers or closes a connection for counts under exactly one of them.
 */
export const errorMetricReasons = [
  'auth_failed',
  'forbidden',
  'rate_limited',
  'too_many_connections',
  'too_many_subscriptions',
  'limit_reached',
  'slow_consumer',
  'message_too_big',
  'parse_error',
  'bad_request',
  'not_found',
  'unavailable',
  'conflict',
  'internal',
] as const;
export type ErrorMetricReason = (typeof errorMetricReasons)[number];

/**
 * Every error the API raises on purpose, as a value: the tRPC code the client
 * sees and a stable `reason` (in `error.data.reason`) a program can switch on.
 */
export const errorReasons = {
  token_missing: {
    code: 'UNAUTHORIZED',
    metric: 'auth_failed',
    message: 'a token is required (connectionParams.token, ?token= or Authorization: Bearer)',
  },
  token_invalid: { code: 'UNAUTHORIZED', metric: 'auth_failed', message: 'the token is not valid' },
  token_expired: { code: 'UNAUTHORIZED', metric: 'auth_failed', message: 'the token has expired' },
  token_revoked: { code: 'UNAUTHORIZED', metric: 'auth_failed', message: 'the token has been revoked (admin.revokeToken)' },
  access_revoked: {
    code: 'FORBIDDEN',
    metric: 'forbidden',
    message: 'access to this resource was revoked; a token issued after the revocation is needed',
  },
  disconnected: { code: 'FORBIDDEN', metric: 'forbidden', message: 'an operator disconnected this user (admin.disconnectUser)' },
  admin_role_required: { code: 'FORBIDDEN', metric: 'forbidden', message: 'operator actions need the service or admin role' },
  idempotency_conflict: {
    code: 'CONFLICT',
    metric: 'conflict',
    message: 'this idempotencyKey was used within IDEMPOTENCY_TTL_SECONDS for a different payload',
  },
  not_granted: { code: 'FORBIDDEN', metric: 'forbidden', message: 'the token does not grant access to this resource' },
  service_role_required: { code: 'FORBIDDEN', metric: 'forbidden', message: 'publishing needs the service role' },
  session_owned_by_other: { code: 'FORBIDDEN', metric: 'forbidden', message: 'this chat session belongs to another user' },
  too_many_connections: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'too_many_connections',
    message: 'this user has reached MAX_CONNECTIONS_PER_USER connections',
  },
  too_many_subscriptions: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'too_many_subscriptions',
    message: 'this connection has reached MAX_SUBSCRIPTIONS_PER_CONNECTION',
  },
  rate_limited: { code: 'TOO_MANY_REQUESTS', metric: 'rate_limited', message: 'too many requests; slow down' },
  slow_consumer: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'slow_consumer',
    message: 'more events waited for this subscriber than it may hold (it reads too slowly)',
  },
  too_many_sessions: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'limit_reached',
    message: 'this user owns MAX_CHAT_SESSIONS_PER_USER chat sessions',
  },
  too_many_watched: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'limit_reached',
    message: 'this chat session watches MAX_WATCHED_PER_SESSION investigations',
  },
  too_many_replies: {
    code: 'TOO_MANY_REQUESTS',
    metric: 'limit_reached',
    message: 'the assistant is still answering earlier messages of this session',
  },
  auth_timeout: { code: 'UNAUTHORIZED', metric: 'auth_failed', message: 'no token arrived within AUTH_TIMEOUT_MS' },
  websocket_required: {
    code: 'BAD_REQUEST',
    metric: 'bad_request',
    message: 'subscriptions are served over the WebSocket endpoint /api/v1/ws',
  },
  engine_unavailable: {
    code: 'SERVICE_UNAVAILABLE',
    metric: 'unavailable',
    message:
      'the event store did not confirm this request (for a publish: the event may still have been stored if the store went away mid-call)',
  },
  server_closing: { code: 'SERVICE_UNAVAILABLE', metric: 'unavailable', message: 'the server is shutting down' },
  store_unavailable: { code: 'SERVICE_UNAVAILABLE', metric: 'unavailable', message: 'the shared state (Redis) is unavailable; try again' },
  invalid_message: { code: 'BAD_REQUEST', metric: 'bad_request', message: 'not a message of the JSON dialect' },
  not_json: { code: 'PARSE_ERROR', metric: 'parse_error', message: 'the frame is not a JSON text frame' },
} as const satisfies Record<string, { code: TRPC_ERROR_CODE_KEY; metric: ErrorMetricReason; message: string }>;

export type ErrorReason = keyof typeof errorReasons;

/** The metric reason of an error that has no reason of ours (tRPC's own: a failed input schema, an unknown procedure). */
export function metricReasonOfCode(code: TRPC_ERROR_CODE_KEY): ErrorMetricReason {
  switch (code) {
    case 'PARSE_ERROR':
      return 'parse_error';
    case 'NOT_FOUND':
      return 'not_found';
    case 'UNAUTHORIZED':
      return 'auth_failed';
    case 'FORBIDDEN':
      return 'forbidden';
    case 'TOO_MANY_REQUESTS':
      return 'rate_limited';
    case 'PAYLOAD_TOO_LARGE':
      return 'message_too_big';
    case 'SERVICE_UNAVAILABLE':
      return 'unavailable';
    case 'CONFLICT':
      return 'conflict';
    case 'INTERNAL_SERVER_ERROR':
      return 'internal';
    default:
      return 'bad_request';
  }
}
