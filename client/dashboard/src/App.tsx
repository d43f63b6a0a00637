import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { createRealtimeClient, type RealtimeClient } from '../../index';
import {
  RealtimeProvider,
  useAnalysisUpdates,
  useChat,
  useConnectionState,
  useInvestigationUpdates,
  useNotifications,
  usePresence,
} from '../../react/index';
import { AnalysisPanel } from './components/AnalysisPanel';
import { ChatPanel } from './components/ChatPanel';
import { ConnectionBadge } from './components/ConnectionBadge';
import { Brand } from './components/common';
import { AnomalyAlerts, InvestigationOverview, Timeline } from './components/InvestigationPanels';
import { NotificationsPanel } from './components/NotificationsPanel';
import { WatchingNow } from './components/PresencePanel';
import { SignIn } from './components/SignIn';
import {
  type DashboardConfig,
  defaultWsUrl,
  forgetUserIdsInUrl,
  loadDashboardConfig,
  readClaims,
  rememberChatSession,
  rememberedChatSession,
  savedToken,
  saveToken,
  type Watched,
  watchedFromUrl,
  writeWatchedToUrl,
} from './session';

export function App() {
  const [config, setConfig] = useState<DashboardConfig | null>(null);
  const [token, setToken] = useState<string | null>(savedToken);
  const [client, setClient] = useState<RealtimeClient | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    void loadDashboardConfig().then(setConfig);
  }, []);

  // One client per token: a new token is a new connection; signing out closes it.
  useEffect(() => {
    if (!token) {
      setClient(null);
      return;
    }
    const next = createRealtimeClient({ url: defaultWsUrl(), getToken: () => token });
    setClient(next);
    return () => void next.close();
  }, [token]);

  function signIn(value: string) {
    saveToken(value);
    setNotice(null);
    setToken(value);
  }

  function signOut(reason: string | null = null) {
    saveToken(null);
    forgetUserIdsInUrl();
    setNotice(reason);
    setToken(null);
  }

  if (!token || !client) {
    return <SignIn devToken={config?.devToken ?? null} configLoaded={config !== null} notice={notice} onSignIn={signIn} />;
  }
  return (
    <RealtimeProvider client={client}>
      <Dashboard token={token} onSignOut={signOut} />
    </RealtimeProvider>
  );
}

function Dashboard({ token, onSignOut }: { token: string; onSignOut: (reason?: string | null) => void }) {
  const claims = useMemo(() => readClaims(token), [token]);
  const userId = claims?.sub ?? null;
  const [watched, setWatched] = useState<Watched>(() => watchedFromUrl(rememberedChatSession(userId)));
  const connection = useConnectionState();

  useEffect(() => writeWatchedToUrl(watched), [watched]);

  // A refused token is final for this client: back to the sign-in form, saying
  // why in the user's words (the close reason is the SDK's, for developers).
  const expiresAt = claims?.exp;
  useEffect(() => {
    if (connection.status === 'closed' && connection.code === 4001) {
      const expired = expiresAt !== undefined && expiresAt * 1000 <= Date.now();
      onSignOut(
        expired ? 'This token has expired. Paste a new one.' : 'The server refused this token (invalid or expired). Paste a new one.',
      );
    }
  }, [connection, onSignOut, expiresAt]);

  const inv = useInvestigationUpdates(watched.investigation || null);
  const analysis = useAnalysisUpdates(watched.analysis || null);
  const presence = usePresence(watched.investigation || null);
  // Without a session in the address (or remembered for this user), one of
  // the user's own is created; it then goes into the address, so a reload or
  // a link shows the same conversation, and is remembered for the next sign-in.
  const chat = useChat(watched.session || undefined);
  const notifications = useNotifications();
  const createdSession = watched.session ? null : chat.sessionId;
  useEffect(() => {
    if (!createdSession) return;
    if (userId) rememberChatSession(userId, createdSession);
    setWatched((w) => (w.session ? w : { ...w, session: createdSession }));
  }, [createdSession, userId]);

  // A remembered session the server no longer takes for this user's (its key
  // was retired): forgotten, and a new one is created.
  const refusedSession = chat.subscriptionError?.reason === 'session_owned_by_other' ? watched.session : null;
  useEffect(() => {
    if (!userId || !refusedSession || refusedSession !== rememberedChatSession(userId)) return;
    rememberChatSession(userId, null);
    setWatched((w) => (w.session === refusedSession ? { ...w, session: '' } : w));
  }, [refusedSession, userId]);

  // The assistant answers from the investigations its session watches; asked
  // again after each reconnect, in case the server that answers now lost it.
  const { watchInvestigation } = chat;
  const isOpen = connection.status === 'open';
  useEffect(() => {
    if (isOpen && watched.investigation) watchInvestigation(watched.investigation).catch(() => undefined);
  }, [watchInvestigation, watched.investigation, isOpen]);

  return (
    <div className="app">
      <header className="topbar">
        <Brand />
        <WatchForm watched={watched} onChange={setWatched} />
        <div className="topbar-end">
          <ConnectionBadge />
          <span className="user" data-testid="user-id" title={claims?.roles?.join(', ')}>
            {userId ?? 'unknown user'}
          </span>
          <button type="button" className="button button-ghost button-small" data-testid="sign-out" onClick={() => onSignOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main className="grid">
        <InvestigationOverview id={watched.investigation} inv={inv}>
          {watched.investigation && <WatchingNow presence={presence} selfUserId={userId} />}
        </InvestigationOverview>
        <AnomalyAlerts anomalies={inv.anomalies} />
        <Timeline events={inv.timeline} />
        <AnalysisPanel id={watched.analysis} analysis={analysis} />
        <NotificationsPanel notifications={notifications} />
        <ChatPanel chat={chat} selfUserId={userId} />
      </main>
    </div>
  );
}

function WatchForm({ watched, onChange }: { watched: Watched; onChange: (w: Watched) => void }) {
  const [draft, setDraft] = useState(watched);
  useEffect(() => setDraft(watched), [watched]);
  const dirty = draft.investigation !== watched.investigation || draft.analysis !== watched.analysis || draft.session !== watched.session;

  function submit(event: FormEvent) {
    event.preventDefault();
    onChange({ investigation: draft.investigation.trim(), analysis: draft.analysis.trim(), session: draft.session.trim() });
  }

  const field = (key: keyof Watched, label: string) => (
    <label className="watch-field">
      <span>{label}</span>
      <input
        data-testid={`watch-${key}`}
        value={draft[key]}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
        spellCheck={false}
      />
    </label>
  );

  return (
    <form className="watch" onSubmit={submit} data-testid="watch-form">
      {field('investigation', 'Investigation')}
      {field('analysis', 'Analysis')}
      {field('session', 'Chat session')}
      <button type="submit" className="button button-small" disabled={!dirty} data-testid="watch-apply">
        Watch
      </button>
    </form>
  );
}
