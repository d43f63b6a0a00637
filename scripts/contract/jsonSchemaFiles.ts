import { realtimeEventSchema } from '../../shared/events';
import { type JsonSchema, toJsonSchema } from './jsonSchema';
import { procedures } from './procedures';

/** One JSON Schema per event type (as JSON clients receive it) and per procedure input. */
export function eventSchemas(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = { RealtimeEvent: toJsonSchema(realtimeEventSchema, 'output') };
  for (const option of realtimeEventSchema.options) out[option.shape.type.value] = toJsonSchema(option, 'output');
  return out;
}

export function inputSchemas(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const { path, input } of procedures()) if (input) out[path] = toJsonSchema(input, 'input');
  return out;
}
