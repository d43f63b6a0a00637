import { decodeJwt } from 'jose';
import { paths } from '../../../shared/paths';

/**
 * Where the page keeps what the user chose: the token for this tab only
 * (sessionStorage: closing the tab signs out), the ids in the address bar so a
 * view can be shared or reloaded.
 */
const TOKEN_KEY = 'cidadao-realtime:token';

export function savedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage may be disabled; the session then lasts until reload.
  }
}

/** The WebSocket endpoint of the server that served this page. */
export function defaultWsUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${paths.ws}`;
}

export interface DashboardConfig {
  /** A user token, only from a server in development mode. */
  devToken: string | null;
}

export async function loadDashboardConfig(): Promise<DashboardConfig> {
  try {
    const res = await fetch(paths.dashboardConfig, { cache: 'no-store' });
    if (!res.ok) return { devToken: null };
    const body = (await res.json()) as Partial<DashboardConfig>;
    return { devToken: typeof body.devToken === 'string' ? body.devToken : null };
  } catch {
    return { devToken: null };
  }
}

export interface Watched {
  investigation: string;
  analysis: string;
  session: string;
}

/** The ids in the address bar; without a chat session, `session` is `fallbackSession` or '' (one is then created). */
export function watchedFromUrl(fallbackSession: string | null): Watched {
  const params = new URLSearchParams(location.search);
  return {
    investigation: params.get('investigation') ?? 'inv-1',
    analysis: params.get('analysis') ?? 'an-1',
    session: params.get('session') ?? fallbackSession ?? '',
  };
}

const CHAT_SESSION_KEY = 'cidadao-realtime:chat-session:';

/**
 * The chat session created for this user in this browser, so that signing in
 * again shows the same conversation. Knowing the id grants nothing: the server
 * checks it names the signed-in user.
 */
export function rememberedChatSession(userId: string | null): string | null {
  if (!userId) return null;
  try {
    return localStorage.getItem(CHAT_SESSION_KEY + userId);
  } catch {
    return null;
  }
}

export function rememberChatSession(userId: string, sessionId: string | null): void {
  try {
    if (sessionId) localStorage.setItem(CHAT_SESSION_KEY + userId, sessionId);
    else localStorage.removeItem(CHAT_SESSION_KEY + userId);
  } catch {
    // Storage may be disabled: the next sign-in creates another session.
  }
}

/**
 * After a sign-out or a refused token: the chat session is the user's own, so
 * the next user must not inherit it (they would be refused it anyway). The
 * investigation and analysis stay: they are what the link points at, whoever signs in.
 */
export function forgetUserIdsInUrl(): void {
  const params = new URLSearchParams(location.search);
  params.delete('session');
  const query = params.toString();
  history.replaceState(null, '', query ? `${location.pathname}?${query}` : location.pathname);
}

export function writeWatchedToUrl(watched: Watched): void {
  const params = new URLSearchParams(location.search);
  params.set('investigation', watched.investigation);
  params.set('analysis', watched.analysis);
  params.set('session', watched.session);
  history.replaceState(null, '', `${location.pathname}?${params.toString()}`);
}

/** The claims of a JWT, read without verifying (the server verifies): for display only. */
export function readClaims(token: string): { sub?: string; roles?: string[]; exp?: number } | null {
  try {
    // decodeJwt checks the shape of the token, not the types of its claims.
    const claims: Record<string, unknown> = decodeJwt(token);
    return {
      sub: typeof claims.sub === 'string' ? claims.sub : undefined,
      roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : undefined,
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
    };
  } catch {
    return null;
  }
}
