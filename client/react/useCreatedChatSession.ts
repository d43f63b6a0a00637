import { useEffect, useState } from 'react';
import type { RealtimeClient } from '../index';
import { useConnectionState, useRealtimeClient } from './provider';
import { type RealtimeError, toRealtimeError } from './realtimeError';

/** The session created for each client (a client is one signed-in user): every component asking shares it. */
const created = new WeakMap<RealtimeClient, Promise<string>>();

function sessionOf(client: RealtimeClient): Promise<string> {
  const known = created.get(client);
  if (known) return known;
  const creating = client.trpc.chat.createSession.mutate({}).then((result) => result.sessionId);
  created.set(client, creating);
  // A failure is not kept: the next ask tries again.
  creating.catch(() => {
    if (created.get(client) === creating) created.delete(client);
  });
  return creating;
}

interface Created {
  client: RealtimeClient;
  sessionId: string | null;
  error: RealtimeError | null;
}

/**
 * While `enabled`: a chat session of the signed-in user's own, made by
 * `chat.createSession` (an id nobody else can use, even after the server lost
 * its state), once per client. Null until it is made; a refusal is in `error`,
 * and the creation is tried again when the connection (re)opens.
 */
export function useCreatedChatSession(enabled: boolean): { sessionId: string | null; error: RealtimeError | null } {
  const client = useRealtimeClient();
  const open = useConnectionState().status === 'open';
  const [state, setState] = useState<Created | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `open` only triggers another try after a failure (a made session is kept per client)
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    sessionOf(client).then(
      (sessionId) => current && setState({ client, sessionId, error: null }),
      (err: unknown) => current && setState({ client, sessionId: null, error: toRealtimeError(err) }),
    );
    return () => {
      current = false;
    };
  }, [client, enabled, open]);

  if (!enabled || state?.client !== client) return { sessionId: null, error: null };
  return { sessionId: state.sessionId, error: state.error };
}
