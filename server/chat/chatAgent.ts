import type { InvestigationSnapshot } from './investigationSnapshot';

export interface ChatRequest {
  sessionId: string;
  userId: string;
  content: string;
  /** The live state of the investigations the session watches, read when the message arrived. */
  investigations: InvestigationSnapshot[];
  signal: AbortSignal;
}

/**
 * The assistant behind `chat.send`: a message in, the reply out as text chunks.
 * The host application plugs its own in (an LLM, say); the built-in one answers
 * from the live state the server has seen.
 */
export interface ChatAgent {
  reply(request: ChatRequest): AsyncIterable<string>;
}
