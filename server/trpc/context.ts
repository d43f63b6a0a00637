import type { AppServices } from '../app';
import type { Principal } from '../auth/principal';
import type { Connection } from '../transport/connection';
import type { SseStream } from '../transport/sseStream';

/**
 * What every procedure sees. `connection` is the WebSocket connection (null
 * over HTTP); `sse` is the Server-Sent Events stream a subscription runs on
 * (GET /api/v1/sse/<procedure>), absent everywhere else.
 */
export interface Context {
  app: AppServices;
  principal: Principal | null;
  connection: Connection | null;
  sse?: SseStream | null;
}
