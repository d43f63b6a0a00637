import { createRequire } from 'node:module';

/**
 * The Redis Cluster slot of a key (CRC16 of the key, or of its hash tag, mod
 * 16384): the function ioredis routes with, from its own dependency, which
 * ships no types.
 */
export const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

/**
 * `items` grouped by the slot of their key, in their order within a group: on
 * a cluster one command may only touch one slot. On one Redis any keys go
 * together, so there is one group.
 */
export function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string, cluster: boolean): T[][] {
  if (!cluster) return items.length > 0 ? [[...items]] : [];
  const bySlot = new Map<number, T[]>();
  for (const item of items) {
    const slot = slotOf(keyOf(item));
    const group = bySlot.get(slot);
    if (group) group.push(item);
    else bySlot.set(slot, [item]);
  }
  return [...bySlot.values()];
}
