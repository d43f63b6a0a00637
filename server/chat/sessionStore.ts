import { apiError } from '../errors';

export interface ChatSessionStoreOptions {
  maxSessionsPerUser: number;
  maxWatchedPerSession: number;
  /** A session unused for this long is forgotten (its ownership and watches too). */
  idleTtlMs: number;
  now?: () => number;
}

interface Session {
  owner: string;
  watched: Set<string>;
  lastUsed: number;
}

/**
 * Chat session ownership and the investigations each session watches. A
 * session belongs to the user who first used it; the maps are bounded per user
 * and per session, and idle sessions expire.
 */
export class ChatSessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, Set<string>>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: ChatSessionStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.idleTtlMs, 60_000));
    this.sweeper.unref();
  }

  /**
   * Claims the session for `userId` on first use, or checks it is theirs.
   * Admins may read any session (`allowForeign`) without claiming it.
   */
  use(sessionId: string, userId: string, allowForeign = false): void {
    const session = this.sessions.get(sessionId);
    if (session) {
      if (session.owner !== userId && !allowForeign) throw apiError('session_owned_by_other');
      session.lastUsed = this.now();
      return;
    }
    const owned = this.byOwner.get(userId);
    if (owned && owned.size >= this.opts.maxSessionsPerUser) throw apiError('too_many_sessions');
    this.sessions.set(sessionId, { owner: userId, watched: new Set(), lastUsed: this.now() });
    if (owned) owned.add(sessionId);
    else this.byOwner.set(userId, new Set([sessionId]));
  }

  watch(sessionId: string, investigationId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`watch on an unclaimed session ${sessionId}`);
    if (session.watched.has(investigationId)) return;
    if (session.watched.size >= this.opts.maxWatchedPerSession) throw apiError('too_many_watched');
    session.watched.add(investigationId);
    const set = this.watchers.get(investigationId);
    if (set) set.add(sessionId);
    else this.watchers.set(investigationId, new Set([sessionId]));
  }

  watchersOf(investigationId: string): ReadonlySet<string> {
    return this.watchers.get(investigationId) ?? emptySet;
  }

  watchedBy(sessionId: string): string[] {
    return [...(this.sessions.get(sessionId)?.watched ?? [])];
  }

  private forget(sessionId: string, session: Session) {
    this.sessions.delete(sessionId);
    const owned = this.byOwner.get(session.owner);
    owned?.delete(sessionId);
    if (owned?.size === 0) this.byOwner.delete(session.owner);
    for (const investigationId of session.watched) {
      const set = this.watchers.get(investigationId);
      set?.delete(sessionId);
      if (set?.size === 0) this.watchers.delete(investigationId);
    }
  }

  sweep() {
    const oldest = this.now() - this.opts.idleTtlMs;
    for (const [id, session] of this.sessions) if (session.lastUsed < oldest) this.forget(id, session);
  }

  stats() {
    return { chatSessions: this.sessions.size, chatOwners: this.byOwner.size, watchedInvestigations: this.watchers.size };
  }

  close() {
    clearInterval(this.sweeper);
  }
}

const emptySet: ReadonlySet<string> = new Set();
