import { z } from 'zod';

/** The JSON of `GET /api/v1/ws/health` and `system.health`. */
export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  /** Why the node is degraded: the engine's reason, or `server_full` (MAX_CONNECTIONS reached). */
  reason: z.string().optional(),
  connections: z.number().int(),
  subscriptions: z.number().int(),
  uptime: z.number(),
  engine: z.object({ kind: z.enum(['memory', 'redis']), status: z.enum(['ok', 'degraded']), reason: z.string().optional() }),
});
export type Health = z.infer<typeof healthSchema>;
