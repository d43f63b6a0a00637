import type { TestServer } from './server';

/** One progress update on `investigationId`, published in-process; resolves to its id. */
export const progress = (srv: TestServer, investigationId: string, value: number) =>
  srv.server.notifyInvestigationUpdate({ investigationId, updateType: 'progress', data: { progress: value % 101 } });

/** `n` progress updates one after another (values from `from`); resolves to their ids. */
export async function publishProgress(srv: TestServer, investigationId: string, from: number, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) ids.push((await progress(srv, investigationId, i)).id);
  return ids;
}
