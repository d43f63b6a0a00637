import type { TestServer } from './server';

/**
 * Publishes ~64 KB events to one investigation until the server has dropped a
 * subscriber that stopped reading (while more than `keep` subscriptions
 * remain), at most 1 000 (64 MB). `pace` runs after each publish, so the
 * caller decides when the batches go out (a turn, or a healthy reader
 * catching up). Returns the published ids, in order.
 */
export async function publishUntilDropped(
  srv: TestServer,
  investigationId: string,
  pace: (index: number, ids: readonly string[]) => Promise<void>,
  keep = 1,
): Promise<string[]> {
  const blob = 'x'.repeat(64 * 1024);
  const ids: string[] = [];
  for (let i = 0; i < 1000 && srv.server.stats().subscriptions > keep; i++) {
    const { id } = await srv.server.notifyInvestigationUpdate({
      investigationId,
      updateType: 'agent_finding',
      data: { agent: 'load', finding: `chunk ${i}`, details: { blob } },
    });
    ids.push(id);
    await pace(i, ids);
  }
  return ids;
}
