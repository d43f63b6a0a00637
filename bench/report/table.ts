import type { PeerSpec } from '../peers';
import { DELIVERY_COUNTS, FIGURES, type FigureName, formatNumber, type Summary } from './figures';

/**
 * One markdown table: a row per scenario × configuration × figure, a column
 * per peer (medians of the repeats), and the ratios ours / raw ws and
 * ours / vanilla tRPC.
 */
export function resultsTable(summaries: Summary[], peers: PeerSpec[], scenarioOrder: string[]): string {
  const ratioBases = (['raw', 'vanilla'] as const).filter(
    (name) => peers.some((p) => p.name === name) && peers.some((p) => p.name === 'ours'),
  );
  const labelOf = (name: string) => peers.find((p) => p.name === name)?.label ?? name;
  const header = ['scenario', 'config', 'figure', ...peers.map((p) => p.label), ...ratioBases.map((b) => `ours / ${labelOf(b)}`)];
  const lines = [row(header), row(header.map((_, i) => (i < 3 ? '---' : '---:')))];

  const groups = new Map<string, Summary[]>();
  for (const s of summaries) groups.set(`${s.scenario}\u0000${s.config}`, [...(groups.get(`${s.scenario}\u0000${s.config}`) ?? []), s]);
  const ordered = [...groups.values()].sort((a, b) => scenarioOrder.indexOf(a[0]!.scenario) - scenarioOrder.indexOf(b[0]!.scenario));

  for (const group of ordered) {
    const { scenario, config } = group[0]!;
    const byPeer = new Map(group.map((s) => [s.peer, s]));
    const present = new Set(group.flatMap((s) => Object.keys(s.figures) as FigureName[]));
    const failedNote = group.filter((s) => s.failed > 0).map((s) => `${labelOf(s.peer)}: ${s.failed} failed`);
    const configCell = failedNote.length ? `${config} (${failedNote.join(', ')})` : config;
    let deliveryDone = false;
    for (const name of Object.keys(FIGURES) as FigureName[]) {
      if (!present.has(name)) continue;
      if (DELIVERY_COUNTS.includes(name)) {
        if (deliveryDone) continue;
        deliveryDone = true;
        const cells = peers.map((p) => {
          const f = byPeer.get(p.name)?.figures;
          return f ? DELIVERY_COUNTS.map((d) => formatNumber(d, f[d])).join(' / ') : '—';
        });
        lines.push(row([scenario, configCell, 'lost / dup / undelivered (worst repeat)', ...cells, ...ratioBases.map(() => '')]));
        continue;
      }
      const value = (peer: string) => byPeer.get(peer)?.figures[name];
      const ours = value('ours');
      const ratios = ratioBases.map((b) => ratio(ours, value(b)));
      lines.push(row([scenario, configCell, FIGURES[name].label, ...peers.map((p) => formatNumber(name, value(p.name))), ...ratios]));
    }
  }
  return lines.join('\n');
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}
