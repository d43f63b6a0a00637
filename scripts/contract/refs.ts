import type { JsonSchema } from './jsonSchema';

/**
 * Moves a standalone schema's local `definitions` into the document's
 * components, prefixed with its name, so `$ref`s resolve inside the AsyncAPI
 * document; drops `$schema` (the document's schema format says it).
 */
export function hoistDefinitions(name: string, schema: JsonSchema, into: Record<string, unknown>): JsonSchema {
  const { $schema: _, definitions, ...rest } = schema;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) =>
        k === '$ref' && typeof v === 'string' ? [k, v.replace('#/definitions/', `#/components/schemas/${name}.`)] : [k, rewrite(v)],
      ),
    );
  };
  for (const [key, def] of Object.entries((definitions ?? {}) as Record<string, unknown>)) into[`${name}.${key}`] = rewrite(def);
  return rewrite(rest) as JsonSchema;
}
