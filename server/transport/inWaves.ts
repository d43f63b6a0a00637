/** The time between two waves of a drain (ms). */
const WAVE_MS = 100;
/** A wave ends at least this many clients: a handful go in one. */
const MIN_WAVE = 10;

/**
 * A drain's pace, for WebSocket connections and SSE streams alike: `end`
 * runs for every item, in waves every 100 ms (at least 10 a wave) spread over
 * `spreadMs`, so that a node's thousands of clients do not all reconnect in
 * the same millisecond. Resolves once every `end` resolved. `onWave` hears
 * each wave (for the drain's log lines).
 */
export async function inWaves<T>(
  items: readonly T[],
  spreadMs: number,
  end: (item: T) => Promise<void>,
  onWave?: (wave: number, of: number, count: number) => void,
): Promise<void> {
  const waves = Math.max(1, Math.min(Math.ceil(items.length / MIN_WAVE), Math.floor(spreadMs / WAVE_MS)));
  const perWave = Math.ceil(items.length / waves);
  const ending: Promise<void>[] = [];
  for (let wave = 0; wave < waves; wave++) {
    if (wave > 0) await new Promise((resolve) => setTimeout(resolve, WAVE_MS));
    const batch = items.slice(wave * perWave, (wave + 1) * perWave);
    for (const item of batch) ending.push(end(item));
    onWave?.(wave + 1, waves, batch.length);
  }
  await Promise.all(ending);
}
