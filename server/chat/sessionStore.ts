import { apiError } from '../errors';

export interface ChatSessionStoreOptions {
  maxSessionsPerUser: number;
  maxWatchedPerSession: number;
  /** A session unused for this long is forgotten (its ownership and watches too). */
  idleTtlMs: number;
}

/** Sizes of the maps a store holds in this process (a shared store holds none). */
export interface ChatSessionStats {
  chatSessions: number;
  chatOwners: number;
  watchedInvestigations: number;
}

/**
 * Chat session ownership and the investigations each session watches. A
 * session belongs to the user who first used it; bounded per user
 * (`too_many_sessions`) and per session (`too_many_watched`); a session idle
 * for `idleTtlMs` is forgotten with its watches, and may then be claimed anew.
 */
export interface ChatSessionStore {
  /**
   * Claims the session for `userId` on first use, or checks it is theirs
   * (`session_owned_by_other` otherwise), and marks it used. With
   * `allowForeign` (admins reading) another user's session is allowed, not claimed.
   */
  use(sessionId: string, userId: string, allowForeign?: boolean): Promise<void>;
  /** Adds an investigation to a session that `use` has claimed. */
  watch(sessionId: string, investigationId: string): Promise<void>;
  /** The live sessions watching an investigation, whichever node claimed them. */
  watchersOf(investigationId: string): Promise<string[]>;
  /** The investigations a live session watches. */
  watchedBy(sessionId: string): Promise<string[]>;
  stats(): ChatSessionStats;
  close(): Promise<void>;
}

interface Session {
  owner: string;
  watched: Set<string>;
  lastUsed: number;
}

/** One process's sessions, in maps swept of idle sessions. */
export class MemoryChatSessionStore implements ChatSessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: ChatSessionStoreOptions & { now?: () => number }) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.idleTtlMs, 60_000));
    this.sweeper.unref();
  }

  private now() {
    return this.opts.now?.() ?? Date.now();
  }

  private isIdle(session: Session) {
    return session.lastUsed <= this.now() - this.opts.idleTtlMs;
  }

  /** The session unless it is idle past the ttl (then it is forgotten now, not at the next sweep). */
  private live(sessionId: string): Session | undefined {
    const session = this.sessions.get(sessionId);
    if (session && this.isIdle(session)) {
      this.forget(sessionId, session);
      return undefined;
    }
    return session;
  }

  async use(sessionId: string, userId: string, allowForeign = false): Promise<void> {
    const session = this.live(sessionId);
    if (session) {
      if (session.owner !== userId && !allowForeign) throw apiError('session_owned_by_other');
      session.lastUsed = this.now();
      return;
    }
    let owned = this.byOwner.get(userId);
    if (owned && owned.size >= this.opts.maxSessionsPerUser) {
      for (const id of owned) this.live(id);
      owned = this.byOwner.get(userId);
      if (owned && owned.size >= this.opts.maxSessionsPerUser) throw apiError('too_many_sessions');
    }
    this.sessions.set(sessionId, { owner: userId, watched: new Set(), lastUsed: this.now() });
    if (owned) owned.add(sessionId);
    else this.byOwner.set(userId, new Set([sessionId]));
  }

  async watch(sessionId: string, investigationId: string): Promise<void> {
    const session = this.live(sessionId);
    if (!session) throw new Error(`watch on an unclaimed session ${sessionId}`);
    if (session.watched.has(investigationId)) return;
    if (session.watched.size >= this.opts.maxWatchedPerSession) throw apiError('too_many_watched');
    session.watched.add(investigationId);
    const set = this.watchers.get(investigationId);
    if (set) set.add(sessionId);
    else this.watchers.set(investigationId, new Set([sessionId]));
  }

  async watchersOf(investigationId: string): Promise<string[]> {
    return [...(this.watchers.get(investigationId) ?? [])].filter((id) => this.live(id) !== undefined);
  }

  async watchedBy(sessionId: string): Promise<string[]> {
    return [...(this.live(sessionId)?.watched ?? [])];
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
    for (const [id, session] of this.sessions) if (this.isIdle(session)) this.forget(id, session);
  }

  stats(): ChatSessionStats {
    return { chatSessions: this.sessions.size, chatOwners: this.byOwner.size, watchedInvestigations: this.watchers.size };
  }

  async close() {
    clearInterval(this.sweeper);
  }
}
