/**
 * Compile-time checks of the client's inference from AppRouter. Only `tsc`
 * (npm run typecheck) reads this file: it is not a test file and nothing calls
 * the function below, so no connection is ever made. Each `@ts-expect-error`
 * fails the typecheck if the line under it ever compiles.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../server/index';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export function clientTypeChecks(url: string) {
  const client = createTRPCClient<AppRouter>({
    links: [wsLink({ client: createWSClient({ url }), transformer: superjson })],
  });

  // Correct calls compile.
  client.investigation.onUpdate.subscribe(
    { investigationId: 'inv-1' },
    {
      onData(value) {
        assertType<Equal<typeof value.id, string>>();
        const event = value.data;
        assertType<Equal<typeof event.id, string>>();
        assertType<Equal<typeof event.timestamp, Date>>();
        // Before narrowing, data may be an update without a severity.
        // @ts-expect-error severity exists only on anomaly_detected
        void event.data.severity;
        if (event.type === 'anomaly_detected') {
          assertType<Equal<typeof event.data.severity, 'low' | 'medium' | 'high' | 'critical'>>();
          assertType<Equal<typeof event.data.confidence, number>>();
        } else if (event.type === 'investigation_update' && event.data.updateType === 'progress') {
          assertType<Equal<typeof event.data.progress, number>>();
        }
      },
    },
  );
  client.investigation.onUpdate.subscribe({ investigationId: 'inv-1', lastEventId: '1700000000000-0' }, {});
  void client.investigation.notifyUpdate.mutate({
    investigationId: 'inv-1',
    updateType: 'progress',
    data: { progress: 40, stage: 'fetching' },
  });
  void client.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'status', data: { status: 'running' } });
  void client.investigation.notifyAnomaly.mutate({
    investigationId: 'inv-1',
    anomaly: { severity: 'critical', description: 'overpriced', contractId: 'CT-9', confidence: 0.9 },
  });
  void client.chat.send.mutate({ sessionId: 's-1', content: 'status?' }).then((r) => assertType<Equal<typeof r, { messageId: string }>>());
  void client.notification.send.mutate({ broadcast: true, title: 't', body: 'b', level: 'info' });
  void client.system.health.query().then((h) => assertType<Equal<typeof h.engine.kind, 'memory' | 'redis'>>());

  // @ts-expect-error misspelled procedure
  client.investigation.onUpdat.subscribe({ investigationId: 'inv-1' }, {});

  // @ts-expect-error investigationId must be a string
  client.investigation.onUpdate.subscribe({ investigationId: 42 }, {});

  // @ts-expect-error investigationId is required
  client.investigation.onUpdate.subscribe({}, {});

  // @ts-expect-error a subscription has no .mutate
  void client.investigation.onUpdate.mutate({ investigationId: 'inv-1' });

  // @ts-expect-error unknown updateType
  void client.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'foo', data: { progress: 40 } });

  // @ts-expect-error progress is a number
  void client.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'progress', data: { progress: '40' } });

  void client.investigation.notifyAnomaly.mutate({
    investigationId: 'inv-1',
    // @ts-expect-error no such severity
    anomaly: { severity: 'extreme', description: 'overpriced', contractId: 'CT-9', confidence: 0.9 },
  });

  // @ts-expect-error the fields of one updateType do not fit another
  void client.investigation.notifyUpdate.mutate({ investigationId: 'inv-1', updateType: 'status', data: { progress: 40 } });
}
