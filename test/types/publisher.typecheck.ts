/**
 * Compile-time checks of the TypeScript publisher's inference from AppRouter.
 * Only `tsc` (npm run typecheck) reads this file: nothing calls the function
 * below, so no request is ever sent. Each `@ts-expect-error` fails the
 * typecheck if the line under it ever compiles.
 */
import { createRealtimePublisher, type RealtimePublisher } from '../../client/index';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export async function publisherTypeChecks(publisher: RealtimePublisher) {
  // Correct calls compile, with or without a key; results are the mutations' outputs.
  const update = await publisher.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: 40 } });
  assertType<Equal<typeof update, { id: string }>>();
  await publisher.notifyInvestigationUpdate({
    investigationId: 'inv-1',
    updateType: 'status',
    data: { status: 'running', timestamp: new Date() },
    idempotencyKey: 'order-1',
  });
  await publisher.notifyAnomalyDetected({
    investigationId: 'inv-1',
    anomaly: { severity: 'critical', description: 'overpriced', contractId: 'CT-9', confidence: 0.9 },
  });
  await publisher.notifyAnalysisUpdate({ analysisId: 'an-1', updateType: 'partial_result', data: { result: { rows: 1 } } });
  const sent = await publisher.sendNotification({ broadcast: true, title: 't', body: 'b', level: 'info' });
  assertType<Equal<typeof sent, { ids: string[] }>>();

  // @ts-expect-error progress must be a number
  await publisher.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: '40' } });
  // @ts-expect-error a status update carries a status, not a progress
  await publisher.notifyInvestigationUpdate({ investigationId: 'inv-1', updateType: 'status', data: { progress: 40 } });
  const huge = { severity: 'huge', description: 'd', contractId: 'C', confidence: 1 } as const;
  // @ts-expect-error no such severity
  await publisher.notifyAnomalyDetected({ investigationId: 'i', anomaly: huge });
  // @ts-expect-error an analysis update names an analysisId
  await publisher.notifyAnalysisUpdate({ investigationId: 'inv-1', updateType: 'status', data: { status: 'running' } });
  // @ts-expect-error the key is a string
  await publisher.sendNotification({ userIds: ['u-1'], title: 't', body: 'b', level: 'info', idempotencyKey: 42 });
  // @ts-expect-error neither userIds nor broadcast
  await publisher.sendNotification({ title: 't', body: 'b', level: 'info' });

  // The options: a token or getToken, not both, not neither.
  createRealtimePublisher({ url: 'http://localhost:8000', token: 't' });
  createRealtimePublisher({ url: 'http://localhost:8000', getToken: async () => 't', retries: 0, fetch });
  // @ts-expect-error a token is needed
  createRealtimePublisher({ url: 'http://localhost:8000' });
  // @ts-expect-error one way of giving it
  createRealtimePublisher({ url: 'http://localhost:8000', token: 't', getToken: () => 't' });
}
