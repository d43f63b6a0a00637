/**
 * The paths of the endpoint table and the connection types, without zod, so
 * the browser client can import them alone.
 */
export const paths = {
  ws: '/api/v1/ws',
  trpc: '/api/v1/trpc',
  /** tRPC subscriptions over Server-Sent Events: `GET /api/v1/sse/<procedure>` (httpSubscriptionLink). */
  sse: '/api/v1/sse',
  health: '/api/v1/ws/health',
  live: '/api/v1/ws/live',
  ready: '/api/v1/ws/ready',
  metrics: '/metrics',
  dashboardConfig: '/dashboard-config.json',
} as const;

/** `?connection_type=` of the WebSocket URL, the `type` label of connection metrics. */
export const connectionTypes = ['general', 'investigation', 'analysis', 'chat'] as const;
export type ConnectionType = (typeof connectionTypes)[number];

/**
 * The `type` label of Server-Sent Events streams in the connection metrics
 * (`websocket_connections_total{type="sse"}`). Not a `?connection_type=` of
 * the WebSocket URL: the upgrade still accepts only `connectionTypes`.
 */
export const sseConnectionType = 'sse';
