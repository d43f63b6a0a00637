import { randomBytes } from 'node:crypto';
import { CloseCode } from '../../shared/closeCodes';
import { topicKind, topics } from '../../shared/topics';
import type { Principal } from '../auth/principal';
import { createAccessRevocationCache, REVOCATION_SKEW_SECONDS, type Revocations } from '../auth/revocations';
import type { EventBus } from '../bus/eventBus';
import type { ChatSessionStore } from '../chat/sessionStore';
import type { Clock } from '../clock';
import type { ControlChannel, ControlMessage } from '../cluster/controlChannel';
import { type ApiError, apiError } from '../errors';
import type { UserConnectionCounter } from '../limits/connectionCounter';
import type { RateLimiter } from '../limits/messageRateLimiter';
import { createBoundedCache } from '../notifications/boundedCache';
import type { KnownUsers } from '../notifications/knownUsers';
import type { NotificationCursors } from '../notifications/notificationCursors';
import type { Logger } from '../observability/logger';
import type { PresenceService } from '../presence/presenceService';
import type { Connection } from '../transport/connection';
import type { ConnectionRegistry } from '../transport/connectionRegistry';

/**
 * Whether a new subscription may go live, as far as operator revocations
 * (admin.revokeAccess) are concerned. The transport asks `check` once the
 * procedure returned its subscription, then `checkLocally` right before the
 * subscription goes live (synchronously, so a broadcast heard in between is
 * not missed: either it was heard before, and `checkLocally` refuses, or it
 * comes after, and finds the live subscription to end).
 */
export interface SubscriptionAccess {
  /** The refusal (`access_revoked`) of `principal`'s subscription to `topic`, or null; reads the shared store. */
  check(principal: Principal, topic: string): Promise<ApiError | null>;
  /** The same from what this node heard on the control channel alone. */
  checkLocally(principal: Principal, topic: string): ApiError | null;
}

/** What admin.eraseUser removed. */
export interface ErasureCounts {
  chatSessions: number;
  /** Events of those sessions' topics (messages, streamed tokens, copies of watched investigations). */
  chatMessages: number;
  notifications: number;
  cursors: number;
  knownUsers: number;
  rateLimits: number;
  connectionLeases: number;
}

export interface AdminServiceOptions {
  control: ControlChannel;
  registry: ConnectionRegistry;
  revocations: Revocations;
  bus: EventBus;
  sessions: ChatSessionStore;
  knownUsers: KnownUsers;
  notificationCursors: NotificationCursors;
  connectionCounter: UserConnectionCounter;
  rateLimiter: RateLimiter;
  /** Presence on every node (presenceService.ts: its eraseUser broadcasts by itself). */
  presence: Pick<PresenceService, 'eraseUser'>;
  logger: Logger;
  clock: Clock;
  maxTokenLifetimeSeconds: number;
  /** Revocations this node remembers from the broadcasts, per kind (default 10 000). */
  localCacheSize?: number;
}

/** The longest close reason a WebSocket close frame carries (bytes). */
const MAX_CLOSE_REASON_BYTES = 123;

/** `text` cut to what a close frame carries, on a character boundary. */
function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_CLOSE_REASON_BYTES) return text;
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > MAX_CLOSE_REASON_BYTES) break;
    out += char;
  }
  return out;
}

/** How long eraseUser waits for this node to hear its own broadcast before going on (ms). */
const OWN_BROADCAST_WAIT_MS = 5_000;

/** The kinds of topics admin.revokeAccess applies to. */
function isRevocable(topic: string): boolean {
  const kind = topicKind(topic);
  return kind === 'investigation' || kind === 'analysis';
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * Operator actions (routers/admin.ts) applied on every node through the
 * control channel, and the checks authentication and subscriptions make
 * against their records. Each node listens: a broadcast is handled
 * synchronously on receipt, so with Redis (one subscriber connection for the
 * control channel and the topics) it is handled before any event published
 * after the broadcast resolved.
 *
 * Nothing per connection or per delivered event: an action walks this node's
 * connections once (operator actions are rare), and a subscription start
 * reads the store once (investigations and analyses only).
 */
export function createAdminService(opts: AdminServiceOptions) {
  const { control, registry, revocations, logger, clock } = opts;
  const lifetimeMs = (opts.maxTokenLifetimeSeconds + REVOCATION_SKEW_SECONDS) * 1000;
  const cache = { max: opts.localCacheSize ?? 10_000, ttlMs: lifetimeMs };
  /** Revoked jtis heard on the control channel: refused without asking the store. */
  const revokedTokens = createBoundedCache<true>(cache);
  /** Access revocations heard on the control channel. */
  const revokedAccess = createAccessRevocationCache(cache);
  /** eraseUser's broadcasts this node is waiting to hear, by message id. */
  const heard = new Map<string, () => void>();

  function connectionsOf(predicate: (principal: Principal) => boolean): Connection[] {
    const found: Connection[] = [];
    for (const conn of registry.connections.values()) {
      const principal = conn.principal;
      if (principal !== null && !conn.isEnded && predicate(principal)) found.push(conn);
    }
    return found;
  }

  function endUser(userId: string, code: number, reason: string): number {
    const conns = connectionsOf((p) => p.userId === userId);
    for (const conn of conns) conn.end(code, reason);
    return conns.length;
  }

  const handlers: Record<string, (message: ControlMessage) => void> = {
    disconnect_user(message) {
      const userId = str(message.userId);
      if (userId === null) return;
      const closed = endUser(userId, CloseCode.DISCONNECTED, closeReason(str(message.reason) ?? 'disconnected by an operator'));
      if (closed > 0) logger.info({ event: 'admin_disconnected', userId, connections: closed });
    },
    revoke_token(message) {
      const jti = str(message.jti);
      if (jti === null) return;
      revokedTokens.cache.set(jti, true);
      for (const conn of connectionsOf((p) => p.jti === jti)) conn.end(CloseCode.UNAUTHORIZED, 'token_revoked');
    },
    revoke_access(message) {
      const userId = str(message.userId);
      const resource = str(message.resource);
      const at = message.at;
      if (userId === null || resource === null || typeof at !== 'number') return;
      revokedAccess.revoke(userId, resource, at);
      const error = apiError('access_revoked', resource);
      for (const conn of connectionsOf((p) => p.userId === userId && p.issuedAt <= at)) conn.revokeTopic(resource, error);
    },
    erase_user(message) {
      const userId = str(message.userId);
      if (userId === null) return;
      endUser(userId, CloseCode.DISCONNECTED, 'user erased');
      opts.rateLimiter.forgetLocal(userId).catch((err: unknown) => logger.warn({ event: 'erase_local_failed', what: 'rate_limit', err }));
    },
  };

  const stopListening = control.listen((message) => {
    handlers[message.kind]?.(message);
    const id = str(message.id);
    if (id !== null) heard.get(id)?.();
  });

  /** Broadcasts `message` and resolves once this node handled it (or after a bound: the other steps go on regardless). */
  async function broadcastAndHear(message: ControlMessage): Promise<void> {
    const id = randomBytes(9).toString('base64url');
    let timer: NodeJS.Timeout | undefined;
    const handled = new Promise<void>((resolve) => {
      heard.set(id, resolve);
      timer = setTimeout(resolve, OWN_BROADCAST_WAIT_MS);
    });
    try {
      await control.broadcast({ ...message, id });
      await handled;
    } finally {
      clearTimeout(timer);
      heard.delete(id);
    }
  }

  const subscriptionAccess: SubscriptionAccess = {
    async check(principal, topic) {
      if (!isRevocable(topic)) return null;
      let at: number | null;
      try {
        at = await revocations.accessRevokedAt(principal.userId, topic);
      } catch (cause) {
        throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
      }
      return at !== null && principal.issuedAt <= at ? apiError('access_revoked', topic) : null;
    },
    checkLocally(principal, topic) {
      const at = revokedAccess.revokedAt(principal.userId, topic);
      return at !== null && principal.issuedAt <= at ? apiError('access_revoked', topic) : null;
    },
  };

  return {
    subscriptionAccess,

    /** Whether the token `jti` was revoked: this node's cache of the broadcasts, then the store (one read). */
    async isTokenRevoked(jti: string): Promise<boolean> {
      if (revokedTokens.cache.get(jti) === true) return true;
      try {
        return await revocations.isTokenRevoked(jti);
      } catch (err) {
        // The store is away: every new subscription fails then anyway; a connection is not refused for it.
        logger.warn({ event: 'revocation_check_failed', message: err instanceof Error ? err.message : String(err) });
        return false;
      }
    },

    /** Whether this node heard that `jti` was revoked (synchronous: asked right before a connection is admitted). */
    tokenRevokedLocally(jti: string): boolean {
      return revokedTokens.cache.get(jti) === true;
    },

    /** Closes every connection of the user on every node with 4003. */
    async disconnectUser(userId: string, reason?: string): Promise<{ ok: true }> {
      await control.broadcast({ kind: 'disconnect_user', userId, reason: closeReason(reason ?? 'disconnected by an operator') });
      return { ok: true };
    },

    /**
     * Revokes the user's access to `resource` (a topic) as of now: stored first
     * (the authority new subscriptions read), then broadcast (every node ends
     * the live subscriptions on receipt).
     */
    async revokeAccess(userId: string, resource: string): Promise<{ ok: true; revokedAt: string }> {
      const at = clock.now();
      await revocations.revokeAccess(userId, resource, at);
      await control.broadcast({ kind: 'revoke_access', userId, resource, at });
      return { ok: true, revokedAt: new Date(at).toISOString() };
    },

    /** Refuses the token from now on, and closes its connections on every node with 4001. */
    async revokeToken(jti: string): Promise<{ ok: true }> {
      await revocations.revokeToken(jti);
      await control.broadcast({ kind: 'revoke_token', jti });
      return { ok: true };
    },

    /**
     * Erases what the deployment keeps of the user (LGPD): their connections
     * are closed (4003) and each node forgets what it alone holds, then the
     * shared state goes: chat sessions and their topics, notifications and
     * their cursor, the known-users entry, rate-limit state, connection
     * leases, presence.
     */
    async eraseUser(userId: string): Promise<ErasureCounts> {
      await broadcastAndHear({ kind: 'erase_user', userId });
      const sessionIds = await opts.sessions.eraseUser(userId);
      let chatMessages = 0;
      for (const sessionId of sessionIds) chatMessages += await opts.bus.erase(topics.chat(sessionId));
      const notifications = await opts.bus.erase(topics.notification(userId));
      const cursors = await opts.notificationCursors.erase(userId);
      const knownUsers = await opts.knownUsers.erase(userId);
      const rateLimits = await opts.rateLimiter.eraseUser(userId);
      const connectionLeases = await opts.connectionCounter.eraseUser(userId);
      // Presence broadcasts its own erasure to every node (their members and the shared entries).
      await opts.presence.eraseUser(userId);
      return {
        chatSessions: sessionIds.length,
        chatMessages,
        notifications,
        cursors,
        knownUsers,
        rateLimits,
        connectionLeases,
      };
    },

    stats() {
      return { revokedTokensHeard: revokedTokens.cache.size, revokedAccessHeard: revokedAccess.size, waiting: heard.size };
    },

    close() {
      stopListening();
      revokedTokens.stop();
      revokedAccess.stop();
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
