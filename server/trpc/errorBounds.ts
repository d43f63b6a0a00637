/**
 * How much of what a client sent an error may echo back. A refused call
 * costs a reply, never more bytes than a fixed bound, whatever the client
 * put in its path, id or input (an unknown 1 MB path was once answered with
 * 2 MB).
 */
export const errorBounds = {
  /** Characters of any echoed text: a path, a request id, one issue's path or message. */
  textChars: 200,
  /** Characters of an error's message. */
  messageChars: 500,
  /** Input issues listed (the message says how many more there were). */
  issues: 10,
  /** Characters of a whole error frame; a longer one is replaced by its code and message alone. */
  frameChars: 8_192,
} as const;

/** `text`, cut to `max` characters (the last one an ellipsis) when longer. */
export function bounded(text: string, max: number = errorBounds.textChars): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
