import type { TRPCCombinedDataTransformer } from '@trpc/server';
import superjson from 'superjson';

function isSuperjsonResult(value: unknown): value is Parameters<typeof superjson.deserialize>[0] {
  if (typeof value !== 'object' || value === null || !('json' in value)) return false;
  const keys = Object.keys(value);
  return keys.every((k) => k === 'json' || k === 'meta');
}

/**
 * superjson both ways for the typed client (a `Date` stays a `Date`), and plain
 * JSON accepted as input too, so curl and other languages can publish without
 * wrapping their input in `{ "json": ... }`. No input of the contract has a
 * top-level `json` key, so the two cannot be confused.
 */
export const transformer: TRPCCombinedDataTransformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (value: unknown) => (isSuperjsonResult(value) ? superjson.deserialize(value) : value),
  },
  output: superjson,
};
