import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/**
 * Every error the API raises on purpose, as a value: the tRPC code the client
 * sees and a stable `reason` (in `error.data.reason`) a program can switch on.
 */
export const errorReasons = {
  token_missing: { code: 'UNAUTHORIZED', message: 'a token is required (connectionParams.token, ?token= or Authorization: Bearer)' },
  token_invalid: { code: 'UNAUTHORIZED', message: 'the token is not valid' },
  token_expired: { code: 'UNAUTHORIZED', message: 'the token has expired' },
  not_granted: { code: 'FORBIDDEN', message: 'the token does not grant access to this resource' },
  service_role_required: { code: 'FORBIDDEN', message: 'publishing needs the service role' },
  session_owned_by_other: { code: 'FORBIDDEN', message: 'this chat session belongs to another user' },
  too_many_connections: { code: 'TOO_MANY_REQUESTS', message: 'this user has reached MAX_CONNECTIONS_PER_USER connections' },
  too_many_subscriptions: { code: 'TOO_MANY_REQUESTS', message: 'this connection has reached MAX_SUBSCRIPTIONS_PER_CONNECTION' },
  rate_limited: { code: 'TOO_MANY_REQUESTS', message: 'too many requests; slow down' },
  slow_consumer: { code: 'TOO_MANY_REQUESTS', message: 'more events waited for this subscriber than it may hold (it reads too slowly)' },
  too_many_sessions: { code: 'TOO_MANY_REQUESTS', message: 'this user owns MAX_CHAT_SESSIONS_PER_USER chat sessions' },
  too_many_watched: { code: 'TOO_MANY_REQUESTS', message: 'this chat session watches MAX_WATCHED_PER_SESSION investigations' },
  too_many_replies: { code: 'TOO_MANY_REQUESTS', message: 'the assistant is still answering earlier messages of this session' },
  auth_timeout: { code: 'UNAUTHORIZED', message: 'no token arrived within AUTH_TIMEOUT_MS' },
  websocket_required: { code: 'BAD_REQUEST', message: 'subscriptions are served over the WebSocket endpoint /api/v1/ws' },
  engine_unavailable: {
    code: 'SERVICE_UNAVAILABLE',
    message:
      'the event store did not confirm this request (for a publish: the event may still have been stored if the store went away mid-call)',
  },
  server_closing: { code: 'SERVICE_UNAVAILABLE', message: 'the server is shutting down' },
  store_unavailable: { code: 'SERVICE_UNAVAILABLE', message: 'the shared state (Redis) is unavailable; try again' },
  invalid_message: { code: 'BAD_REQUEST', message: 'not a message of the JSON dialect' },
  not_json: { code: 'PARSE_ERROR', message: 'the frame is not a JSON text frame' },
} as const satisfies Record<string, { code: TRPC_ERROR_CODE_KEY; message: string }>;

export type ErrorReason = keyof typeof errorReasons;
