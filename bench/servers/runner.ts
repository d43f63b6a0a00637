import { nowMs } from '../clock';
import { emitEvent, serveCommands } from '../ipc';
import type { ServerCommands, ServerVariant, Usage } from './protocol';
import { PublishLoop } from './publishLoop';

/**
 * The part every server variant shares: the IPC commands (publish runs, flow
 * credit, memory readings, gc) around a variant that only knows how to listen
 * and publish. Sends `ready` once listening. (CPU time and RSS during runs are
 * read by the orchestrator from /proc, which needs no answer from a busy
 * event loop.)
 */
export async function runVariant(name: string, variant: ServerVariant): Promise<void> {
  function usage(): Usage {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      at: nowMs(),
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
    };
  }

  const loop = new PublishLoop(variant);
  serveCommands<ServerCommands>({
    startRun: (args) => loop.start(args),
    allow: ({ upTo }) => loop.allow(upTo),
    stopRun: () => loop.stop(),
    usage: () => usage(),
    async gc() {
      const gc = globalThis.gc;
      if (!gc) throw new Error('start the server with --expose-gc');
      // Several rounds with turns in between, so finalizers and weak
      // references released by one round are collected by the next.
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return usage();
    },
  });

  try {
    const address = await variant.listen();
    emitEvent({ event: 'ready', ...address });
  } catch (err) {
    console.error(`[${name}] could not start:`, err);
    process.exit(1);
  }
}
