/**
 * `npm run bench` — our server against raw ws (plain and with our batching),
 * Socket.IO and a docs-style tRPC server, in one run on this machine. See
 * bench/README.md.
 *
 *   npm run bench                          full run (≥ 2 repeats, medians; ~20 min)
 *   npm run bench -- --quick               small sizes, 1 repeat (~4 min), for development
 *   npm run bench -- --only fanout-max,idle-memory --peers ours,raw --repeats 3
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type BenchConfig, fullConfig, quickConfig } from './config';
import { installCleanup, killAllChildren } from './orchestrator/children';
import { peers as allPeers } from './peers';
import { acceptanceChecks, acceptanceMarkdown } from './report/acceptance';
import { type Measurement, summarize } from './report/figures';
import { machineInfo, machineMarkdown } from './report/machine';
import { resultsTable } from './report/table';
import { type Report, writeReport } from './report/write';
import { scenarios } from './scenarios/index';

installCleanup();

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    peers: { type: 'string' },
    repeats: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(
    `npm run bench [-- --quick] [--only ${scenarios.map((s) => s.name).join(',')}] [--peers ${allPeers.map((p) => p.name).join(',')}] [--repeats N] [--workers N]`,
  );
  process.exit(0);
}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const config: BenchConfig = { ...(values.quick ? quickConfig : fullConfig) };
if (values.repeats) config.repeats = Number(values.repeats);
if (values.workers) config.workers = Number(values.workers);
if (!(config.repeats >= 1) || !(config.workers >= 1)) throw new Error('--repeats and --workers must be ≥ 1');

const peerNames = list(values.peers);
const peers = peerNames
  ? peerNames.map((n) => allPeers.find((p) => p.name === n) ?? fail(`unknown peer ${n}; known: ${allPeers.map((p) => p.name).join(', ')}`))
  : allPeers.filter((p) => p.byDefault);
const only = list(values.only);
const chosen = only
  ? only.map((n) => scenarios.find((s) => s.name === n) ?? fail(`unknown scenario ${n}; known: ${scenarios.map((s) => s.name).join(', ')}`))
  : scenarios;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const machine = machineInfo();
const startedAt = new Date().toISOString();
const measurements: Measurement[] = [];
const secret = randomBytes(32).toString('hex');
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

log(
  `benchmark: ${chosen.map((s) => s.name).join(', ')} × ${peers.map((p) => p.name).join(', ')}, ${config.repeats} repeat(s)${values.quick ? ' (quick)' : ''}`,
);
log(`machine: ${machineMarkdown(machine)}`);

for (const scenario of chosen) {
  log(`— ${scenario.name}`);
  await scenario.run({ config, peers, secret, record: (m) => measurements.push(m), log });
}

const summaries = summarize(measurements);
const acceptance = acceptanceChecks(summaries);
const report: Report = {
  startedAt,
  finishedAt: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  machine,
  config,
  peers,
  scenarios: chosen.map((s) => s.name),
  measurements,
  summaries,
  acceptance,
};
const files = await writeReport(report, scenarios);

console.log(`\n${resultsTable(summaries, peers, report.scenarios)}\n`);
console.log(`Acceptance (performance targets):\n${acceptanceMarkdown(acceptance)}\n`);
const problems = measurements.flatMap((m) => m.warnings.map((w) => `${m.scenario} ${m.config} ${m.peer} #${m.repeat}: ${w}`));
if (problems.length) console.log(`!!! ${problems.length} warning(s):\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
console.log(`Written: ${files.join(', ')}`);
killAllChildren();
process.exit(0);
