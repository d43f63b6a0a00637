import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import type { Chat } from '../../../react/index';
import { formatTime } from '../format';
import { Card, Empty, StreamNotices } from './common';

const suggestions = ['How is the investigation going?', 'Any critical anomalies?', 'What did the agents find?'];

/**
 * Chat with the assistant about the watched investigation. A reply shows up
 * while it streams (`data-streaming="true"`, text growing) and is replaced by
 * the whole message when it is complete.
 */
export function ChatPanel({ chat, selfUserId }: { chat: Chat; selfUserId: string | null }) {
  const [draft, setDraft] = useState('');
  const list = useRef<HTMLDivElement>(null);
  const othersTyping = chat.typing.filter((id) => id !== selfUserId);
  const streamedLength = chat.streaming.reduce((n, r) => n + r.text.length, 0);
  // No session yet: the user's own is still being created.
  const ready = chat.sessionId !== null && !chat.sending;

  // Follow the conversation unless the user scrolled up to read.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when a message or a streamed chunk arrives, which changes the list's height
  useEffect(() => {
    const el = list.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [chat.messages.length, streamedLength]);

  async function send(content: string) {
    const text = content.trim();
    if (!text) return;
    setDraft('');
    chat.setTyping(false);
    await chat.send(text).catch(() => setDraft(text));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void send(draft);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      void send(draft);
    }
  }

  return (
    <Card
      title="Assistant"
      className="area-chat chat"
      testId="chat-panel"
      subtitle={<code className="entity-id">{chat.sessionId ?? 'new session…'}</code>}
    >
      <StreamNotices stream={chat} testIdPrefix="chat" />
      <div className="chat-log" ref={list} data-testid="chat-log">
        {chat.messages.length === 0 && chat.streaming.length === 0 && (
          <Empty>Ask about the investigation: its status, progress, anomalies, findings or report.</Empty>
        )}
        {chat.messages.map((m) => (
          <div
            key={m.messageId}
            className={`bubble bubble-${m.role}${m.userId === selfUserId ? ' bubble-self' : ''}`}
            data-testid="chat-message"
            data-role={m.role}
            data-message-id={m.messageId}
          >
            <div className="bubble-meta">
              <span>{m.role === 'assistant' ? 'Assistant' : m.role === 'system' ? 'System' : m.userId}</span>
              <time>{formatTime(m.at)}</time>
            </div>
            <div className="bubble-text">{m.content}</div>
          </div>
        ))}
        {chat.streaming.map((r) => (
          <div
            key={r.messageId}
            className="bubble bubble-assistant bubble-streaming"
            data-testid="chat-streaming"
            data-streaming="true"
            data-message-id={r.messageId}
            aria-busy="true"
          >
            <div className="bubble-meta">
              <span>Assistant</span>
              <span className="streaming-label">typing…</span>
            </div>
            <div className="bubble-text" data-testid="chat-streaming-text">
              {r.text}
              <span className="caret" aria-hidden="true" />
            </div>
          </div>
        ))}
      </div>
      <div className="typing" data-testid="typing-indicator" aria-live="polite">
        {othersTyping.length > 0 ? `${othersTyping.join(', ')} ${othersTyping.length === 1 ? 'is' : 'are'} typing…` : ''}
      </div>
      <div className="suggestions">
        {suggestions.map((s) => (
          <button key={s} type="button" className="chip" data-testid="chat-suggestion" onClick={() => void send(s)} disabled={!ready}>
            {s}
          </button>
        ))}
      </div>
      <form className="chat-form" onSubmit={submit}>
        <textarea
          data-testid="chat-input"
          value={draft}
          rows={2}
          placeholder="Message the assistant…"
          onChange={(e) => {
            setDraft(e.target.value);
            chat.setTyping(e.target.value.length > 0);
          }}
          onKeyDown={onKeyDown}
          onBlur={() => chat.setTyping(false)}
        />
        <button type="submit" className="button button-primary" data-testid="chat-send" disabled={!draft.trim() || !ready}>
          Send
        </button>
      </form>
      {chat.callError && (
        <p className="notice notice-error small" data-testid="chat-call-error">
          {chat.callError.reason ?? chat.callError.code ?? 'error'}: {chat.callError.message}
        </p>
      )}
    </Card>
  );
}
