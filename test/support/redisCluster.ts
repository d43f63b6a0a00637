import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { requireExecutables } from './tools';
import { waitFor } from './wait';

/** Debian's redis-server and redis-cli (apt-get install redis-server); REDIS_SERVER_PATH / REDIS_CLI_PATH to use others. */
const REDIS_SERVER_PATH = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';
const REDIS_CLI_PATH = process.env.REDIS_CLI_PATH ?? '/usr/bin/redis-cli';

const redisClusterAvailable = requireExecutables(
  'Redis Cluster',
  [REDIS_SERVER_PATH, REDIS_CLI_PATH],
  'apt-get update && apt-get install -y redis-server',
);

/** `describe` when redis-server and redis-cli are installed, a loud skip when not (and a failure under CI). */
export const describeWithRedisCluster = describe.skipIf(!redisClusterAvailable);

const HOST = '127.0.0.1';
const SLOTS = 16384;
// Redis listens for the cluster bus on port + 10000 and refuses a bus port above 65535; keeping
// both under 55535 leaves the top of the range (where Linux picks ephemeral ports) mostly alone.
const BUS_OFFSET = 10_000;
const PORT_MIN = 20_000;
const PORT_MAX = 45_535;
const PORT_ATTEMPTS = 10;
const DEFAULTS = { masters: 3, replicasPerMaster: 1, timeoutMs: 30_000 };

type Options = Partial<typeof DEFAULTS>;

interface ClusterNodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: [number, number][];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive ports whose bus ports are free too; random, so clusters starting at once rarely meet. */
async function pickPorts(count: number): Promise<number[]> {
  for (;;) {
    const base = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN - count + 2));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const checks = await Promise.all(ports.flatMap((port) => [bindable(port), bindable(port + BUS_OFFSET)]));
    if (checks.every(Boolean)) return ports;
  }
}

/** One command on a connection of its own: nodes die and come back, and a lasting client would only reconnect noisily. */
async function command(port: number, name: string, ...args: (string | number)[]): Promise<string> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call(name, ...args));
  } finally {
    client.disconnect();
  }
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', addr = '', flags = '', masterId = '', , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        port: Number(addr.split('@')[0]?.split(':').at(-1)),
        flags: flags.split(','),
        masterId,
        // `[slot->-id]` entries are slots being migrated, not served.
        slots: slots
          .filter((slot) => !slot.startsWith('['))
          .map((slot) => {
            const [first = '', last = first] = slot.split('-');
            return [Number(first), Number(last)] as [number, number];
          }),
      };
    });
}

const covers = (slots: [number, number][], slot: number) => slots.some(([first, last]) => first <= slot && slot <= last);

/** The masters serving slots in one node's CLUSTER NODES, with their replicas; nodes flagged as failed left out. */
function mastersIn(nodes: ClusterNodeLine[]) {
  const live = nodes.filter((node) => !node.flags.includes('fail'));
  return live
    .filter((node) => node.flags.includes('master') && node.slots.length > 0)
    .map((master) => ({
      port: master.port,
      slots: master.slots,
      replicaPorts: live.filter((node) => node.masterId === master.id).map((node) => node.port),
    }))
    .sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
}

/**
 * A Redis Cluster of its own on the loopback (`masters` masters with `replicasPerMaster`
 * replicas each, real redis-server processes), returned once every node agrees it is
 * whole. Disposable: every process killed, its directory removed, also when starting fails.
 */
export async function startRedisCluster(opts: Options = {}) {
  const { masters: masterCount, replicasPerMaster, timeoutMs } = { ...DEFAULTS, ...opts };
  const total = masterCount * (1 + replicasPerMaster);
  const dir = await mkdtemp(join(tmpdir(), 'realtime-redis-cluster-'));
  const processes = new Map<number, { child: ChildProcess; exited: Promise<void> }>();
  const killed = new Set<number>();
  const slotsOfKilled = new Map<number, [number, number][]>();
  let ports: number[] = [];

  const livePorts = () => ports.filter((port) => !killed.has(port));

  async function stop(port: number) {
    const proc = processes.get(port);
    if (!proc) return;
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  }

  async function dispose() {
    await Promise.all([...processes.keys()].map(stop));
    await rm(dir, { recursive: true, force: true });
  }

  function spawnNode(port: number) {
    const child = spawn(
      REDIS_SERVER_PATH,
      [
        ...['--port', String(port), '--bind', HOST, '--dir', dir, '--logfile', join(dir, `redis-${port}.log`)],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000'],
        // 0: a replica takes over however long it has been cut off from its master, so a kill always fails over.
        ...['--cluster-replica-validity-factor', '0', '--save', '', '--appendonly', 'no'],
        // A master waits 5 s by default before a diskless full sync, for more replicas to join it: most of a start.
        ...['--repl-diskless-sync-delay', '0'],
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    processes.set(port, { child, exited });
  }

  /** Resolves when the node on `port` is ours and answering; false if it exited first (its port or bus port was taken). */
  async function nodeUp(port: number): Promise<boolean> {
    const { child } = processes.get(port)!;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      const info = await command(port, 'INFO', 'server').catch(() => '');
      if (parseInfo(info).process_id === String(child.pid)) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
  }

  async function logTail(port: number): Promise<string> {
    const log = await readFile(join(dir, `redis-${port}.log`), 'utf8').catch(() => '');
    return log.trim().split('\n').slice(-5).join('\n');
  }

  async function startNodes() {
    for (let attempt = 1; ; attempt++) {
      ports = await pickPorts(total);
      for (const port of ports) spawnNode(port);
      const up = await Promise.all(ports.map(nodeUp));
      const failed = ports.find((_, i) => !up[i]);
      if (failed === undefined) return;
      // Another cluster starting at the same time (or anything else) took a port after it was checked.
      const tail = await logTail(failed);
      await Promise.all(ports.map(stop));
      for (const port of ports) processes.delete(port);
      if (attempt === PORT_ATTEMPTS) throw new Error(`redis-server kept exiting at start (last on port ${failed}):\n${tail}`);
    }
  }

  /** What keeps the cluster from being whole, as seen by each node; empty once it is. */
  async function notReady(): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      ports.map(async (port) => {
        try {
          const info = parseInfo(await command(port, 'CLUSTER', 'INFO'));
          if (info.cluster_state !== 'ok') problems.push(`${port}: cluster_state ${info.cluster_state}`);
          if (info.cluster_slots_ok !== String(SLOTS)) problems.push(`${port}: cluster_slots_ok ${info.cluster_slots_ok}`);
          if (info.cluster_known_nodes !== String(total)) problems.push(`${port}: knows ${info.cluster_known_nodes} of ${total} nodes`);
          const nodes = parseClusterNodes(await command(port, 'CLUSTER', 'NODES'));
          const unsettled = nodes.filter((node) => node.flags.some((flag) => ['handshake', 'noaddr', 'fail', 'fail?'].includes(flag)));
          if (unsettled.length > 0) problems.push(`${port}: sees ${unsettled.map((n) => `${n.port} ${n.flags}`).join(', ')}`);
          // Which node replicates which reaches the others by gossip, after redis-cli has already returned.
          const view = mastersIn(nodes);
          if (view.length !== masterCount || view.some((master) => master.replicaPorts.length !== replicasPerMaster)) {
            problems.push(`${port}: sees masters (with replicas) ${view.map((m) => `${m.port} (${m.replicaPorts})`).join(', ')}`);
          }
          const repl = parseInfo(await command(port, 'INFO', 'replication'));
          if (repl.role === 'master' && repl.connected_slaves !== String(replicasPerMaster)) {
            problems.push(`${port}: master with ${repl.connected_slaves} connected replicas`);
          }
          if (repl.role === 'slave' && repl.master_link_status !== 'up') problems.push(`${port}: replica link ${repl.master_link_status}`);
        } catch (err) {
          problems.push(`${port}: ${(err as Error).message}`);
        }
      }),
    );
    return problems;
  }

  async function liveNodes(): Promise<ClusterNodeLine[]> {
    const [port] = livePorts();
    if (port === undefined) throw new Error('every node of the cluster was killed');
    return parseClusterNodes(await command(port, 'CLUSTER', 'NODES'));
  }

  async function masters() {
    return mastersIn(await liveNodes());
  }

  async function masterOfKey(key: string): Promise<number> {
    const [port] = livePorts();
    if (port === undefined) throw new Error('every node of the cluster was killed');
    const slot = Number(await command(port, 'CLUSTER', 'KEYSLOT', key));
    const master = (await masters()).find((m) => covers(m.slots, slot));
    if (!master) throw new Error(`no live master serves slot ${slot} (key ${key})`);
    return master.port;
  }

  async function kill(port: number): Promise<void> {
    if (!processes.has(port)) throw new Error(`no node of this cluster on port ${port}`);
    // Remembered now: once failed over, nothing in the cluster says which slots the dead master had.
    const master = (await masters()).find((m) => m.port === port);
    if (master) slotsOfKilled.set(port, master.slots);
    killed.add(port);
    await stop(port);
  }

  async function waitForFailover(deadPort: number): Promise<number> {
    const slots = slotsOfKilled.get(deadPort);
    if (!slots) throw new Error(`port ${deadPort} is not a master this cluster killed`);
    const { value } = await waitFor(
      async () => {
        const problems: string[] = [];
        const owners = new Set<number>();
        await Promise.all(
          livePorts().map(async (port) => {
            try {
              const info = parseInfo(await command(port, 'CLUSTER', 'INFO'));
              if (info.cluster_state !== 'ok') problems.push(`${port}: cluster_state ${info.cluster_state}`);
              const nodes = parseClusterNodes(await command(port, 'CLUSTER', 'NODES'));
              for (const [first] of slots) {
                const owner = nodes.find((node) => covers(node.slots, first));
                if (!owner || owner.port === deadPort || owner.flags.includes('fail'))
                  problems.push(`${port}: slot ${first} not taken over`);
                else owners.add(owner.port);
              }
            } catch (err) {
              problems.push(`${port}: ${(err as Error).message}`);
            }
          }),
        );
        if (owners.size > 1) problems.push(`nodes disagree on the new master: ${[...owners]}`);
        const [owner] = owners;
        if (problems.length === 0 && owner !== undefined) {
          const role = parseInfo(await command(owner, 'INFO', 'replication').catch(() => '')).role;
          if (role !== 'master') problems.push(`${owner}: reports role ${role}`);
        }
        return { problems, value: owner };
      },
      ({ problems }) => problems.length === 0,
      `a failover of the slots of killed master ${deadPort}`,
      timeoutMs,
    );
    return value!;
  }

  try {
    await startNodes();
    const spec = ports.map((port) => `${HOST}:${port}`);
    await promisify(execFile)(
      REDIS_CLI_PATH,
      ['--cluster', 'create', ...spec, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { timeout: timeoutMs },
    ).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    await waitFor(notReady, (problems) => problems.length === 0, `every node of the Redis Cluster to be ready`, timeoutMs);
  } catch (err) {
    await dispose();
    throw err;
  }

  return {
    nodes: ports.map((port) => ({ host: HOST as '127.0.0.1', port })),
    /** As REDIS_CLUSTER_NODES takes it. */
    spec: ports.map((port) => `${HOST}:${port}`).join(','),
    masters,
    masterOfKey,
    kill,
    waitForFailover,
    [Symbol.asyncDispose]: dispose,
  };
}
