/**
 * One scrape of a server's `/metrics`: every sample line by its series
 * (`name{labels}` exactly as printed), so a test compares what Prometheus
 * would store.
 */
export async function scrape(httpUrl: string, bearer?: string): Promise<Map<string, number>> {
  const res = await fetch(`${httpUrl}/metrics`, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The value of one series in a scrape; 0 when it is absent. */
export function seriesValue(samples: Map<string, number>, series: string): number {
  return samples.get(series) ?? 0;
}
