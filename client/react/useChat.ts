import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ChatState } from '../sdk/chatState';
import { chatFold } from '../sdk/folds';
import { useRealtimeClient } from './provider';
import { type RealtimeError, toRealtimeError } from './realtimeError';
import { useCreatedChatSession } from './useCreatedChatSession';
import { type StreamControls, useTopicFold } from './useTopicFold';

export interface Chat extends ChatState, StreamControls {
  /** The session shown: the one given, or the one created for the user (null while it is being made, or idle). */
  sessionId: string | null;
  /** Sends a message; the assistant's reply then streams into `streaming`, then `messages`. */
  send: (content: string) => Promise<{ messageId: string }>;
  /** Tells the others whether this user is typing; repeated values are not re-sent. */
  setTyping: (isTyping: boolean) => void;
  /** Lets the assistant (and this session's subscribers) follow an investigation. */
  watchInvestigation: (investigationId: string) => Promise<void>;
  /** A message is on its way to the server. */
  sending: boolean;
  /** The last send, typing or watch call of this component that failed, or the creation of its session. */
  callError: RealtimeError | null;
}

/**
 * A chat session: its messages, the assistant's replies while they stream
 * (`streaming[i].text` grows chunk by chunk), who is typing, and the calls.
 * The session's state is shared by every component showing it; the calls and
 * their errors are this component's.
 *
 * `useChat()` shows a session of the signed-in user's own, created with
 * `chat.createSession` (one per client, shared by every component asking;
 * `sessionId` says which): nobody else can read or write it, even after the
 * server lost its state. `useChat(id)` shows that session (an id of the app's
 * own is still accepted: it belongs to the first user who uses it);
 * `useChat(null)` is idle.
 */
export function useChat(requested?: string | null): Chat {
  const client = useRealtimeClient();
  const created = useCreatedChatSession(requested === undefined);
  const sessionId = requested === undefined ? created.sessionId : requested;
  const folded = useMemo(() => (sessionId === null ? null : client.chat(sessionId).fold(chatFold)), [client, sessionId]);
  const [state, controls] = useTopicFold(folded, chatFold);
  const [sending, setSending] = useState(false);
  const [callError, setCallError] = useState<RealtimeError | null>(null);
  const typingSent = useRef(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new client or session starts with nothing sent and no error
  useEffect(() => {
    typingSent.current = false;
    setCallError(null);
  }, [client, sessionId]);

  const send = useCallback(
    async (content: string) => {
      if (!sessionId) throw new Error('useChat: no session');
      setSending(true);
      setCallError(null);
      try {
        const result = await client.trpc.chat.send.mutate({ sessionId, content });
        typingSent.current = false;
        return result;
      } catch (err) {
        setCallError(toRealtimeError(err));
        throw err;
      } finally {
        setSending(false);
      }
    },
    [client, sessionId],
  );

  const setTyping = useCallback(
    (isTyping: boolean) => {
      if (!sessionId || typingSent.current === isTyping) return;
      typingSent.current = isTyping;
      client.trpc.chat.typing.mutate({ sessionId, isTyping }).catch((err: unknown) => setCallError(toRealtimeError(err)));
    },
    [client, sessionId],
  );

  const watchInvestigation = useCallback(
    async (investigationId: string) => {
      if (!sessionId) throw new Error('useChat: no session');
      try {
        await client.trpc.chat.watchInvestigation.mutate({ sessionId, investigationId });
      } catch (err) {
        setCallError(toRealtimeError(err));
        throw err;
      }
    },
    [client, sessionId],
  );

  return { ...state, ...controls, sessionId, send, setTyping, watchInvestigation, sending, callError: callError ?? created.error };
}
