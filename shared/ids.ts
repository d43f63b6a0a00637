import { z } from 'zod';

/**
 * Ids of investigations, analyses, chat sessions and users. They end up in topic
 * names and Redis keys, so the alphabet is small and the length bounded.
 */
const entityIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'may hold only letters, digits and . _ : @ -');

export const investigationIdSchema = entityIdSchema.describe('investigation id');
export const analysisIdSchema = entityIdSchema.describe('analysis id');
export const sessionIdSchema = entityIdSchema.describe('chat session id');
export const userIdSchema = entityIdSchema.describe('user id');
