import type { PeerSpec } from '../peers';
import { DELIVERY_COUNTS, FIGURES, type FigureName, formatNumber, type Summary } from './figures';

/**
 * Ratio columns `subject / base`, each printed when both peers ran: our tRPC
 * dialect against raw ws, raw ws batched (the limit for batched delivery) and
 * vanilla tRPC; our JSON dialect (`ours-json`) against the two raw peers.
 */
const RATIOS = [
  { subject: 'ours', base: 'raw', header: 'ours / raw ws' },
  { subject: 'ours', base: 'raw-batched', header: 'ours / raw batched' },
  { subject: 'ours', base: 'vanilla', header: 'ours / vanilla tRPC' },
  { subject: 'ours-json', base: 'raw', header: 'JSON dialect / raw ws' },
  { subject: 'ours-json', base: 'raw-batched', header: 'JSON dialect / raw batched' },
] as const;

/**
 * One markdown table: a row per scenario × configuration × figure, a column
 * per peer (medians of the repeats), then the RATIOS whose peers ran.
 */
export function resultsTable(summaries: Summary[], peers: PeerSpec[], scenarioOrder: string[]): string {
  const ran = (name: string) => peers.some((p) => p.name === name);
  const ratios = RATIOS.filter((r) => ran(r.subject) && ran(r.base));
  const labelOf = (name: string) => peers.find((p) => p.name === name)?.label ?? name;
  const header = ['scenario', 'config', 'figure', ...peers.map((p) => p.label), ...ratios.map((r) => r.header)];
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
        lines.push(row([scenario, configCell, 'lost / dup / undelivered (worst repeat)', ...cells, ...ratios.map(() => '')]));
        continue;
      }
      const value = (peer: string) => byPeer.get(peer)?.figures[name];
      const cells = peers.map((p) => formatNumber(name, value(p.name)));
      lines.push(row([scenario, configCell, FIGURES[name].label, ...cells, ...ratios.map((r) => ratio(value(r.subject), value(r.base)))]));
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
