import { describe, expect, expectTypeOf, test } from 'vitest';
import type { EventOf, InvestigationEvent } from '../../client/index';
import { startServer } from '../support/server';
import { waitFor } from '../support/wait';
import { Gate, isOpen, openClient, publishProgress, subscriptionsReach, TopicCollector } from './helpers';

describe('the emitter API: client.investigation(id).on(type, handler)', () => {
  test('handlers get only their event type, typed from the contract; two handlers share one server subscription; the last unsubscribe ends it', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });

    const anomalies: EventOf<InvestigationEvent, 'anomaly_detected'>[] = [];
    const updates: EventOf<InvestigationEvent, 'investigation_update'>[] = [];
    const offAnomaly = c.client.investigation('inv-1').on('anomaly_detected', (event) => {
      expectTypeOf(event.data.severity).toEqualTypeOf<'low' | 'medium' | 'high' | 'critical'>();
      anomalies.push(event);
    });
    // Another handle of the same topic, as another component would hold.
    const all = new TopicCollector(c.client.investigation('inv-1'));
    const offUpdate = c.client.investigation('inv-1').on('investigation_update', (event) => {
      expectTypeOf(event.data.updateType).toEqualTypeOf<'status' | 'progress' | 'agent_finding' | 'report_status'>();
      updates.push(event);
    });
    await all.started();
    expect(srv.server.stats().subscriptions).toBe(1);

    const [progressId] = await publishProgress(srv, 'inv-1', 40, 1);
    const anomaly = await srv.server.notifyAnomalyDetected({
      investigationId: 'inv-1',
      anomaly: { severity: 'critical', description: 'unit price 3x market', contractId: 'CT-1', confidence: 0.9 },
    });
    await all.take(2);
    expect(all.events.map((e) => e.id)).toEqual([progressId, anomaly.id]);
    expect(anomalies.map((e) => [e.id, e.data.severity])).toEqual([[anomaly.id, 'critical']]);
    expect(updates.map((e) => e.id)).toEqual([progressId]);
    expect(updates[0]!.timestamp).toBeInstanceOf(Date);

    offAnomaly();
    offAnomaly(); // a second call changes nothing
    all.unsubscribe();
    // One handler is left, so the subscription stays and keeps delivering.
    const [later] = await publishProgress(srv, 'inv-1', 41, 1);
    await waitFor(
      () => updates.length,
      (n) => n === 2,
      'the remaining handler to get the next update',
    );
    expect(updates[1]!.id).toBe(later);
    expect(srv.server.stats().subscriptions).toBe(1);
    expect(anomalies).toHaveLength(1);

    offUpdate();
    await subscriptionsReach(srv, 0, 'the server subscription to end with the last handler');
    expect(c.client.state.status).toBe('open'); // the connection itself stays
  });

  test('topics of different ids are separate subscriptions, and a handler added after the last one left starts a new one', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['*'], analyses: ['*'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });

    const first = new TopicCollector(c.client.investigation('inv-a'));
    const second = new TopicCollector(c.client.investigation('inv-b'));
    const analysis = new TopicCollector(c.client.analysis('an-1'));
    await Promise.all([first.started(), second.started(), analysis.started()]);
    expect(srv.server.stats().subscriptions).toBe(3);

    first.unsubscribe();
    second.unsubscribe();
    analysis.unsubscribe();
    await subscriptionsReach(srv, 0);

    const again = new TopicCollector(c.client.investigation('inv-a'));
    await again.started();
    const [id] = await publishProgress(srv, 'inv-a', 1, 1);
    expect((await again.take(1)).map((e) => e.id)).toEqual([id]);
    again.unsubscribe();
    await subscriptionsReach(srv, 0);
  });

  test('a refused topic reports the error with its reason and holds nothing on the server', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({ url: srv.address.wsUrl, getToken: () => token });

    const refused = new TopicCollector(c.client.investigation('inv-secret'));
    const error = await refused.failed();
    expect(error).toMatchObject({ data: { code: 'FORBIDDEN', reason: 'not_granted' } });
    expect(srv.server.stats().subscriptions).toBe(0);
    refused.unsubscribe();
  });

  test('the state goes connecting, open; close() ends every subscription and the connection, with closed 1000', async () => {
    await using srv = await startServer();
    const tokenReady = new Gate();
    const token = await srv.token({ sub: 'analyst', investigations: ['inv-1'] });
    await using c = openClient({
      url: srv.address.wsUrl,
      getToken: async () => {
        await tokenReady.opened;
        return token;
      },
    });
    expect(c.client.state).toEqual({ status: 'connecting', attempt: 0 });
    tokenReady.open();
    await c.states.next(isOpen, 'open');
    const sub = new TopicCollector(c.client.investigation('inv-1'));
    await sub.started();

    await c.client.close();
    expect(c.client.state).toEqual({ status: 'closed', code: 1000, reason: 'closed by the client' });
    await waitFor(
      () => srv.server.stats(),
      (s) => s.connections === 0 && s.subscriptions === 0,
      'the server to release the connection',
    );
    await expect(c.client.trpc.system.health.query()).rejects.toThrow(/closed/);
    expect(c.states.history.map((s) => s.status)).toEqual(['connecting', 'open', 'closed']);
  });

  test('an http(s) URL is taken as ws(s), and connectionType labels the connection on the server', async () => {
    await using srv = await startServer();
    const token = await srv.token({ sub: 'analyst' });
    await using c = openClient({ url: `${srv.address.httpUrl}/api/v1/ws`, getToken: () => token, connectionType: 'chat' });
    await c.states.next(isOpen, 'open');
    const metrics = await (await fetch(`${srv.address.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^websocket_connections_total\{type="chat"\} 1$/m);
  });
});
