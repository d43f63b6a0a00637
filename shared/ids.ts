import { z } from 'zod';

/**
 * Ids of investigations, analyses, chat sessions and users. They end up in topic
 * names and Redis keys, so the alphabet is small and the length bounded.
 */
export const entityIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'may hold only letters, digits and . _ : @ -');

export const investigationIdSchema = entityIdSchema;
export const analysisIdSchema = entityIdSchema;
export const sessionIdSchema = entityIdSchema;
export const userIdSchema = entityIdSchema;
