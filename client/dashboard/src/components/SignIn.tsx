import { type FormEvent, useEffect, useState } from 'react';
import { Brand } from './common';

export function SignIn(props: {
  devToken: string | null;
  configLoaded: boolean;
  /** Why the last session ended (a rejected token, say). */
  notice: string | null;
  onSignIn: (token: string) => void;
}) {
  const { devToken, configLoaded, notice, onSignIn } = props;
  const [token, setToken] = useState('');
  // The dev token arrives after the first render; it fills the field only if the user typed nothing.
  useEffect(() => {
    if (devToken) setToken((current) => current || devToken);
  }, [devToken]);

  function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim();
    if (value) onSignIn(value);
  }

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} data-testid="signin-form">
        <Brand className="brand-large" />
        <p className="muted">
          Live investigations, anomaly alerts, analyses, chat with the assistant and notifications, over one WebSocket.
        </p>
        {notice && (
          <p className="notice notice-error" role="alert" data-testid="signin-notice">
            {notice}
          </p>
        )}
        <label className="field">
          <span>Access token</span>
          <textarea
            data-testid="token-input"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="Paste a JWT (eyJhbGciOi…)"
            rows={5}
            spellCheck={false}
            autoComplete="off"
            required
          />
        </label>
        {devToken ? (
          <p className="hint" data-testid="dev-token-hint">
            Development mode: the server filled in a token for <code>dev-user</code>.
          </p>
        ) : (
          configLoaded && (
            <p className="hint">
              <code>npm start</code> prints a user token in development mode.
            </p>
          )
        )}
        <button type="submit" className="button button-primary" data-testid="connect-button" disabled={!token.trim()}>
          Connect
        </button>
      </form>
    </main>
  );
}
