import { z } from 'zod';
import { analysisIdSchema, investigationIdSchema, userIdSchema } from './ids';

/**
 * Inputs of the operator procedures (admin.*, role `service` or `admin`).
 * Strict objects, like every other input.
 */
export const disconnectUserInput = z.strictObject({
  userId: userIdSchema,
  /** Shown to the client as the close reason (cut to what a close frame carries, 123 bytes). */
  reason: z.string().min(1).max(100, 'must be at most 100 characters').optional(),
});

export const revokeAccessInput = z.union([
  z.strictObject({ userId: userIdSchema, investigationId: investigationIdSchema }),
  z.strictObject({ userId: userIdSchema, analysisId: analysisIdSchema }),
]);

export const revokeTokenInput = z.strictObject({
  /** The token's `jti` claim (issueToken sets a random one). */
  jti: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
});

export const eraseUserInput = z.strictObject({ userId: userIdSchema });
