/**
 * A load-generator worker process: opens its share of the connections,
 * speaks the peer's protocol by hand, and per data frame only finds the
 * marker, checks the connection's order (gap → lost, repeat → duplicate) and
 * records the latency. Reports the lowest seq across its connections every
 * 50 ms while asked to (flow control).
 */
import { nowMs, sleep } from '../clock';
import { Histogram } from '../histogram';
import { emitEvent, serveCommands } from '../ipc';
import { type Mark, readMarks } from '../marker';
import { signToken, userIdOf } from '../tokens';
import { Connection } from './connection';
import { dialectFor } from './dialects/index';
import type { ConnectPlan, ConnectResult, LoadgenCommands, LoadgenEvent, SubSpec } from './protocol';

const PROGRESS_MS = 50;
const workerIndex = Number(process.env.BENCH_WORKER ?? 0);

const connections: Connection[] = [];
const histogram = new Histogram();
let delivered = 0;
let lost = 0;
let duplicated = 0;
let prepared: { plan: ConnectPlan; conns: Connection[] } | null = null;
let progressTimer: NodeJS.Timeout | null = null;

const marks: Mark[] = [];
function onFrame(conn: Connection, data: Buffer) {
  const n = readMarks(data, marks);
  if (n === 0) {
    if (conn.ws) dialect?.onControl(conn, data.toString());
    return;
  }
  const now = nowMs();
  for (let i = 0; i < n; i++) {
    const { stream, seq, sentAt } = marks[i]!;
    const last = stream === 0 ? conn.last0 : conn.last1;
    if (seq > last + 1) lost += seq - last - 1;
    else if (seq <= last) duplicated++;
    if (seq > last) {
      if (stream === 0) conn.last0 = seq;
      else conn.last1 = seq;
    }
    delivered++;
    histogram.record((now - sentAt) * 1000);
  }
}

let dialect: ReturnType<typeof dialectFor> | null = null;

function subsOf(plan: ConnectPlan, index: number, topic: string): SubSpec[] {
  const subs: SubSpec[] = [{ kind: plan.kind, topic }];
  if (plan.withNotifications) subs.push({ kind: 'notification', topic: userIdOf(index) });
  return subs;
}

async function prepare(plan: ConnectPlan) {
  const conns: Connection[] = [];
  for (let k = 0; k < plan.count; k++) {
    const index = plan.from + k;
    const topic = plan.topic.mode === 'hot' ? plan.topic.name : `${plan.topic.prefix}${index}`;
    const localAddress = plan.sourceAddresses ? `127.0.0.${2 + (index % plan.sourceAddresses)}` : undefined;
    conns.push(new Connection(index, await signToken(plan.secret, userIdOf(index)), topic, subsOf(plan, index, topic), localAddress));
  }
  prepared = { plan, conns };
  dialect = dialectFor(plan.client);
  return { tokens: conns.length };
}

async function connect(): Promise<ConnectResult> {
  if (!prepared || !dialect) throw new Error('connect before prepare');
  const { plan, conns } = prepared;
  const d = dialect;
  prepared = null;
  const started = nowMs();
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < conns.length) {
      const conn = conns[next++]!;
      const error = await conn.open(d, plan.wsUrl, plan.client, plan.timeoutMs, onFrame);
      if (error === null) connections.push(conn);
      else {
        failed++;
        if (errors.length < 5) errors.push(`u${conn.index}: ${error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, plan.concurrency) }, lane));
  return { opened: conns.length - failed, failed, errors, ms: nowMs() - started };
}

function minSeq(): number {
  let min = Infinity;
  for (const c of connections) if (c.last0 < min) min = c.last0;
  return min === Infinity ? 0 : min;
}

async function drain(finalByTopic: Record<string, number>, notes: number, timeoutMs: number) {
  const started = nowMs();
  const count = () => {
    let behind = 0;
    let missing = 0;
    for (const c of connections) {
      const want = finalByTopic[c.topic] ?? 0;
      const miss = Math.max(0, want - c.last0) + Math.max(0, notes - c.last1);
      if (miss > 0) {
        behind++;
        missing += miss;
      }
    }
    return { behind, missing };
  };
  let now = count();
  while (now.behind > 0 && nowMs() - started < timeoutMs) {
    await sleep(20);
    now = count();
  }
  return { ...now, ms: nowMs() - started };
}

serveCommands<LoadgenCommands>({
  prepare,
  connect,
  mark() {
    const cpu = process.cpuUsage();
    const result = { delivered, cpuUs: cpu.user + cpu.system, histogram: histogram.toData() };
    histogram.reset();
    return result;
  },
  progress({ on }) {
    if (progressTimer) clearInterval(progressTimer);
    progressTimer = on
      ? setInterval(() => emitEvent<LoadgenEvent>({ event: 'progress', worker: workerIndex, minSeq: minSeq(), delivered }), PROGRESS_MS)
      : null;
  },
  drain: ({ finalByTopic, notes, timeoutMs }) => drain(finalByTopic, notes ?? 0, timeoutMs),
  stats() {
    const closed: Record<string, number> = {};
    for (const c of connections) if (c.closedWith !== null) closed[c.closedWith] = (closed[c.closedWith] ?? 0) + 1;
    return { connections: connections.length, delivered, lost, duplicated, closed };
  },
  async closeAll() {
    for (const c of connections) c.terminate();
    connections.length = 0;
  },
});

emitEvent<LoadgenEvent>({ event: 'ready', worker: workerIndex });
