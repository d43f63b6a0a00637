import { execSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  node: string;
  os: string;
  loadAverageAtStart: number[];
  commit: string;
}

/** What the figures were measured on (the machine is shared: the load average says how busy it was). */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain -- server shared', { encoding: 'utf8' }).trim();
    if (dirty) commit += ' (server/ or shared/ modified)';
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit,
  };
}

export function machineMarkdown(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; Node ${m.node}; ${m.os}; commit ${m.commit}; load average at start ${m.loadAverageAtStart.join(' / ')}`;
}
