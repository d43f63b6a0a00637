import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { ORIGIN_EVENT_ID } from '../../shared/eventId';
import { topics } from '../../shared/topics';
import type { Principal } from '../auth/principal';
import { isAdmin } from '../auth/principal';
import type { EventBus } from '../bus/eventBus';
import { jwtKeys } from '../config';
import { apiError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ChatAgent } from './chatAgent';
import { snapshotInvestigation } from './investigationSnapshot';
import { createSessionIdSigner } from './sessionIdSigner';
import { createSessionRenewal } from './sessionRenewal';
import type { ChatSessionStore, SessionAccess } from './sessionStore';

export interface ChatServiceDeps {
  bus: EventBus;
  sessions: ChatSessionStore;
  agent: ChatAgent;
  logger: Logger;
  /** JWT_SECRET: the ids `createSession` issues are signed with a key derived from its first key, and checked against all of them. */
  jwtSecret: string;
  /** Replies one session may have in flight; more get TOO_MANY_REQUESTS. */
  maxRepliesPerSession?: number;
}

/** The assistant's user id in chat events. */
const ASSISTANT_USER_ID = 'assistant';

/**
 * chat.createSession / send / typing / watchInvestigation, and who may use a
 * session. A reply runs in the background: its chunks are published as
 * `chat_token` events, then the whole text as a `chat_message` from the
 * assistant. Tokens are live-only (numbered, delivered, never stored): a
 * reply's tokens would otherwise fill the session's history (HISTORY_SIZE
 * events) and push the conversation out of it, and cost a stored event each.
 * A client that resumes mid-reply gets the tokens from then on and the whole
 * reply as its `chat_message`, which is stored.
 */
export function createChatService(deps: ChatServiceDeps) {
  const { bus, sessions, agent, logger } = deps;
  const ids = createSessionIdSigner(jwtKeys(deps.jwtSecret));
  const renewal = createSessionRenewal({ everyMs: sessions.renewEveryMs, renew: (id, userId) => sessions.use(id, userId), logger });
  const maxReplies = deps.maxRepliesPerSession ?? 2;
  const inFlight = new Map<string, number>();
  const shutdown = new AbortController();
  // Every reply in flight listens to this one signal (bounded by maxReplies per session).
  setMaxListeners(0, shutdown.signal);
  const running = new Set<Promise<void>>();

  async function investigationsOf(sessionId: string) {
    const ids = await sessions.watchedBy(sessionId);
    return Promise.all(
      ids.map(async (id) => {
        const read = await bus.history(topics.investigation(id), ORIGIN_EVENT_ID);
        return snapshotInvestigation(id, read.events, read.found);
      }),
    );
  }

  async function runReply(sessionId: string, userId: string, content: string, replyId: string) {
    const topic = topics.chat(sessionId);
    let text = '';
    try {
      const investigations = await investigationsOf(sessionId);
      for await (const delta of agent.reply({ sessionId, userId, content, investigations, signal: shutdown.signal })) {
        if (delta.length === 0) continue;
        text += delta;
        await bus.publishLive(topic, { type: 'chat_token', data: { sessionId, messageId: replyId, delta, done: false } });
      }
      await bus.publishLive(topic, { type: 'chat_token', data: { sessionId, messageId: replyId, delta: '', done: true } });
      await bus.publish(topic, {
        type: 'chat_message',
        data: { sessionId, messageId: replyId, role: 'assistant', content: text, userId: ASSISTANT_USER_ID },
      });
    } catch (error) {
      logger.error({ event: 'chat_reply_failed', sessionId, err: error }, 'chat reply failed');
      await bus
        .publish(topic, {
          type: 'chat_message',
          data: {
            sessionId,
            messageId: replyId,
            role: 'system',
            content: 'The assistant could not answer this message.',
            userId: ASSISTANT_USER_ID,
          },
        })
        .catch(() => undefined);
    }
    // The session must outlive its newest events, and a long reply may end
    // after the renewal of the send that asked for it ran out.
    await renewal.renew(sessionId, userId);
  }

  /**
   * Checks (and on first use claims) the session for this caller, and renews
   * it. An id `createSession` issued names its owner: it is checked against the
   * id itself, so a store that lost the session cannot give it to anyone else
   * (for its owner the store just records it again). An admin may read any
   * session (`reader`), never write to another's.
   */
  async function authorize(principal: Principal, sessionId: string, forReading = false): Promise<SessionAccess> {
    const adminReading = forReading && isAdmin(principal);
    if (ids.isOwnedBy(sessionId, principal.userId) === false) {
      if (adminReading) return 'reader';
      throw apiError('session_owned_by_other');
    }
    return sessions.use(sessionId, principal.userId, adminReading);
  }

  return {
    authorize,

    /** A new session owned by the caller; it counts toward MAX_CHAT_SESSIONS_PER_USER like any other. */
    async createSession(principal: Principal): Promise<{ sessionId: string }> {
      const sessionId = ids.issue(principal.userId);
      await sessions.use(sessionId, principal.userId);
      return { sessionId };
    },

    /**
     * While the owner's subscription to the session is open, the session stays
     * theirs however long they stay idle (renewed by this node), and so do its
     * watches.
     */
    renewWhileOpen(sessionId: string, userId: string, subscription: { readonly isClosed: boolean }) {
      renewal.hold(sessionId, userId, subscription);
    },

    async send(principal: Principal, sessionId: string, content: string): Promise<{ messageId: string }> {
      await authorize(principal, sessionId);
      const count = inFlight.get(sessionId) ?? 0;
      if (count >= maxReplies) throw apiError('too_many_replies');
      const messageId = randomUUID();
      await bus.publish(topics.chat(sessionId), {
        type: 'chat_message',
        data: { sessionId, messageId, role: 'user', content, userId: principal.userId },
      });
      inFlight.set(sessionId, count + 1);
      const reply = runReply(sessionId, principal.userId, content, randomUUID()).finally(() => {
        const left = (inFlight.get(sessionId) ?? 1) - 1;
        if (left <= 0) inFlight.delete(sessionId);
        else inFlight.set(sessionId, left);
        running.delete(reply);
      });
      running.add(reply);
      return { messageId };
    },

    async typing(principal: Principal, sessionId: string, isTyping: boolean) {
      await authorize(principal, sessionId);
      await bus.publish(topics.chat(sessionId), { type: 'typing', data: { sessionId, userId: principal.userId, isTyping } });
      return { ok: true as const };
    },

    async watch(principal: Principal, sessionId: string, investigationId: string) {
      await authorize(principal, sessionId);
      await sessions.watch(sessionId, investigationId);
      return { ok: true as const };
    },

    stats() {
      return { repliesInFlight: running.size, replySessions: inFlight.size, renewedSessions: renewal.size() };
    },

    /** Stops replies in flight and waits for them to settle. */
    async close() {
      renewal.close();
      shutdown.abort();
      await Promise.allSettled([...running]);
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
