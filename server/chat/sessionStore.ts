import { apiError } from '../errors';

export interface ChatSessionStoreOptions {
  maxSessionsPerUser: number;
  maxWatchedPerSession: number;
  /**
   * HISTORY_TTL_SECONDS of the session topics, in ms. After its last use a
   * session watches its investigations this long, and stays its owner's twice
   * as long: by then the last event copied into its topic (at most one ttl
   * after the last use) has left the history too, so whoever claims the
   * session next finds nothing of the owner's in it.
   */
  historyTtlMs: number;
}

/** Sizes of the maps a store holds in this process (a shared store holds none). */
export interface ChatSessionStats {
  chatSessions: number;
  chatOwners: number;
  watchedInvestigations: number;
}

/** How the caller may use the session: as its owner, or (an admin reading) as a reader of someone else's. */
export type SessionAccess = 'owner' | 'reader';

/**
 * Chat session ownership and the investigations each session watches. A
 * session belongs to the user who first used it; bounded per user
 * (`too_many_sessions`) and per session (`too_many_watched`). Each use renews
 * it; unused, it stops watching after `historyTtlMs` and is forgotten after
 * twice that, and may then be claimed anew.
 */
export interface ChatSessionStore {
  /**
   * Claims the session for `userId` on first use, or checks it is theirs
   * (`session_owned_by_other` otherwise), and renews it. With `allowForeign`
   * (admins reading) another user's session is allowed (`reader`), not claimed.
   * A session's owner renews it this way while subscribed, too.
   */
  use(sessionId: string, userId: string, allowForeign?: boolean): Promise<SessionAccess>;
  /** Adds an investigation to a session that `use` has claimed. */
  watch(sessionId: string, investigationId: string): Promise<void>;
  /** The sessions watching an investigation now, whichever node claimed them. */
  watchersOf(investigationId: string): Promise<string[]>;
  /** The investigations a live session watches. */
  watchedBy(sessionId: string): Promise<string[]>;
  /**
   * Forgets every session `userId` owns, with their watches (admin.eraseUser);
   * returns their ids, so that their topics can be erased too.
   */
  eraseUser(userId: string): Promise<string[]>;
  /** How often a node renews the sessions whose owner is subscribed there, so that neither their watches nor their ownership lapse. */
  readonly renewEveryMs: number;
  stats(): ChatSessionStats;
  close(): Promise<void>;
}

/**
 * A third of the ttl: a renewal may come late by two thirds of it before the
 * watches lapse. At most hourly, which also keeps a long ttl within what a
 * timer can wait.
 */
export function renewalInterval(historyTtlMs: number): number {
  return Math.min(historyTtlMs / 3, 60 * 60_000);
}

interface Session {
  owner: string;
  watched: Set<string>;
  lastUsed: number;
}

/** One process's sessions, in maps swept of expired sessions. */
export class MemoryChatSessionStore implements ChatSessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;
  readonly renewEveryMs: number;

  constructor(private readonly opts: ChatSessionStoreOptions & { now?: () => number }) {
    this.renewEveryMs = renewalInterval(opts.historyTtlMs);
    this.sweeper = setInterval(() => this.sweep(), Math.min(opts.historyTtlMs, 60_000));
    this.sweeper.unref();
  }

  private now() {
    return this.opts.now?.() ?? Date.now();
  }

  private isExpired(session: Session) {
    return session.lastUsed <= this.now() - 2 * this.opts.historyTtlMs;
  }

  private isWatching(session: Session) {
    return session.lastUsed > this.now() - this.opts.historyTtlMs;
  }

  /** The session unless it expired (then it is forgotten now, not at the next sweep). */
  private live(sessionId: string): Session | undefined {
    const session = this.sessions.get(sessionId);
    if (session && this.isExpired(session)) {
      this.forget(sessionId, session);
      return undefined;
    }
    return session;
  }

  async use(sessionId: string, userId: string, allowForeign = false): Promise<SessionAccess> {
    const session = this.live(sessionId);
    if (session) {
      if (session.owner !== userId && !allowForeign) throw apiError('session_owned_by_other');
      session.lastUsed = this.now();
      return session.owner === userId ? 'owner' : 'reader';
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
    return 'owner';
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
    return [...(this.watchers.get(investigationId) ?? [])].filter((id) => {
      const session = this.live(id);
      return session !== undefined && this.isWatching(session);
    });
  }

  async watchedBy(sessionId: string): Promise<string[]> {
    return [...(this.live(sessionId)?.watched ?? [])];
  }

  async eraseUser(userId: string): Promise<string[]> {
    const owned = [...(this.byOwner.get(userId) ?? [])];
    for (const id of owned) {
      const session = this.sessions.get(id);
      if (session) this.forget(id, session);
    }
    return owned;
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
    for (const [id, session] of this.sessions) if (this.isExpired(session)) this.forget(id, session);
  }

  stats(): ChatSessionStats {
    return { chatSessions: this.sessions.size, chatOwners: this.byOwner.size, watchedInvestigations: this.watchers.size };
  }

  async close() {
    clearInterval(this.sweeper);
  }
}
