import { z } from 'zod';

/** The JSON of `GET /api/v1/ws/health` and `system.health`. */
export const healthSchema = z.object({
  /** `healthy` (200, as the platform's original service answered); `degraded` or `draining` answer 503, with a `reason`. */
  status: z.enum(['healthy', 'degraded', 'draining']),
  /**
   * Why the node is not healthy: the engine's reason (Redis unreachable),
   * `server_full` (MAX_CONNECTIONS reached) or `shutting_down` (draining).
   */
  reason: z.string().optional(),
  connections: z.number().int(),
  subscriptions: z.number().int(),
  uptime: z.number(),
  engine: z.object({ kind: z.enum(['memory', 'redis']), status: z.enum(['ok', 'degraded']), reason: z.string().optional() }),
});
export type Health = z.infer<typeof healthSchema>;
