import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchConfig } from '../config';
import type { PeerSpec } from '../peers';
import type { Scenario } from '../scenarios/scenario';
import { acceptanceMarkdown, type Check } from './acceptance';
import type { Measurement, Summary } from './figures';
import { type MachineInfo, machineMarkdown } from './machine';
import { resultsTable } from './table';

export interface Report {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  config: BenchConfig;
  peers: PeerSpec[];
  scenarios: string[];
  measurements: Measurement[];
  summaries: Summary[];
  acceptance: Check[];
}

function reportMarkdown(r: Report, scenarios: Scenario[]): string {
  const warnings = r.measurements.flatMap((m) => m.warnings.map((w) => `- ${m.scenario} ${m.config} ${m.peer} #${m.repeat}: ${w}`));
  const minutes = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 60_000;
  return [
    `# Benchmark ${r.startedAt}`,
    '',
    `Command: \`${r.command}\` (${r.config.repeats} repeat(s) of every configuration; medians; ${minutes.toFixed(1)} min)`,
    '',
    `Machine: ${machineMarkdown(r.machine)}. Server, load generator (${r.config.workers} worker processes) and orchestrator share these cores.`,
    '',
    resultsTable(r.summaries, r.peers, r.scenarios),
    '',
    '## Acceptance (performance targets)',
    '',
    acceptanceMarkdown(r.acceptance),
    '',
    '## Warnings',
    '',
    warnings.length ? warnings.join('\n') : 'None: no run lost, duplicated or left undelivered an event, and none failed.',
    '',
    '## Scenarios',
    '',
    ...scenarios.filter((s) => r.scenarios.includes(s.name)).map((s) => `- **${s.name}**: ${s.about}`),
    '',
  ].join('\n');
}

/** Writes `bench/results/<timestamp>.{json,md}` and `latest.{json,md}`; returns the paths. */
export async function writeReport(r: Report, scenarios: Scenario[]): Promise<string[]> {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(r, (key, value: unknown) => (key === 'window' && typeof value === 'function' ? 'see config.ts' : value), 2);
  const md = reportMarkdown(r, scenarios);
  const files = [`${dir}${stamp}.json`, `${dir}${stamp}.md`, `${dir}latest.json`, `${dir}latest.md`];
  await Promise.all([writeFile(files[0]!, json), writeFile(files[1]!, md), writeFile(files[2]!, json), writeFile(files[3]!, md)]);
  return files;
}
