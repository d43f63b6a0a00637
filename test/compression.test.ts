import { describe, expect, test } from 'vitest';
import { RawWs } from './support/rawWs';
import { startServer, type TestServer } from './support/server';

/** A finding long and repetitive enough to pass ws's 1 KiB compression threshold. */
const finding = 'contract 2024/0001 paid twice to the same supplier; '.repeat(40).trim();

async function subscribeAndReceive(srv: TestServer) {
  const token = await srv.token({ sub: 'reader', investigations: ['inv-z'] });
  const raw = await RawWs.open(`${srv.address.wsUrl}?token=${token}`);
  raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-z' });
  await raw.frame((f) => f.id === 1 && f.result?.type === 'started', 'started');
  await srv.server.notifyInvestigationUpdate({
    investigationId: 'inv-z',
    updateType: 'agent_finding',
    data: { agent: 'auditor', finding },
  });
  const [event] = await raw.waitForEvents(1, 1);
  // Bytes the client's socket read in all (handshake, started, the event): ws keeps its socket as `_socket`.
  const bytesRead = raw.socket.bytesRead;
  return { raw, event: event!, extensions: raw.ws.extensions, bytesRead };
}

describe('permessage-deflate (WS_PERMESSAGE_DEFLATE)', () => {
  test('off by default: a client offering it gets plain frames', async () => {
    await using srv = await startServer();
    const { raw, event, extensions, bytesRead } = await subscribeAndReceive(srv);
    await using _raw = raw;
    expect(extensions).toBe('');
    expect(event.data).toMatchObject({ finding });
    expect(bytesRead).toBeGreaterThan(finding.length);
  });

  test('on: negotiated with a client that offers it, events arrive whole and in order', async () => {
    await using srv = await startServer({ perMessageDeflate: true });
    const { raw, event, extensions, bytesRead } = await subscribeAndReceive(srv);
    await using _raw = raw;
    expect(extensions).toContain('permessage-deflate');
    expect(event.data).toMatchObject({ finding });
    // The repetitive finding shrinks to a fraction of its size on the wire.
    expect(bytesRead).toBeLessThan(finding.length / 2);
  });

  test('on: a client that does not offer it is served uncompressed', async () => {
    await using srv = await startServer({ perMessageDeflate: true });
    const token = await srv.token({ sub: 'plain', investigations: ['inv-z'] });
    await using raw = await RawWs.open(`${srv.address.wsUrl}?token=${token}`, { perMessageDeflate: false });
    raw.request(1, 'subscription', 'investigation.onUpdate', { investigationId: 'inv-z' });
    await raw.frame((f) => f.id === 1 && f.result?.type === 'started', 'started');
    await srv.server.notifyInvestigationUpdate({
      investigationId: 'inv-z',
      updateType: 'agent_finding',
      data: { agent: 'auditor', finding },
    });
    const [event] = await raw.waitForEvents(1, 1);
    expect(raw.ws.extensions).toBe('');
    expect(event!.data).toMatchObject({ finding });
  });
});
