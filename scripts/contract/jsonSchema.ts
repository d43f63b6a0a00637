import { z } from 'zod';
import { sourceTimestampInputSchema } from '../../shared/fields';

export type JsonSchema = Record<string, unknown>;

/**
 * zod's own JSON Schema export, as the JSON dialect sees the data: a `Date`
 * is an ISO-8601 string (`format: date-time`). Draft-07, the dialect AsyncAPI's
 * default schema format extends.
 */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, {
    target: 'draft-7',
    io,
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const isDate = zodSchema._zod.def.type === 'date';
      if (!isDate && zodSchema !== sourceTimestampInputSchema) return;
      // The input's `Date | ISO string` union is one string to a JSON client.
      for (const key of Object.keys(jsonSchema)) delete jsonSchema[key];
      Object.assign(jsonSchema, { type: 'string', format: 'date-time' });
      if (!isDate) jsonSchema.description = 'ISO-8601 date-time; without an offset it is taken as UTC';
    },
  }) as JsonSchema;
}
