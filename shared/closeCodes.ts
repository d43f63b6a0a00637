/**
 * WebSocket close codes the server uses. 4xxx are ours (README "Close codes"); the others
 * are the standard ones with the meaning RFC 6455 gives them.
 */
export const CloseCode = {
  /** The server is shutting down; reconnect (to another node). */
  GOING_AWAY: 1001,
  /**
   * The client kept sending faster than its budget (RATE_LIMIT_PER_SECOND,
   * RATE_LIMIT_BURST) for RATE_LIMIT_CLOSE_AFTER_MS: slow down before reconnecting.
   */
  POLICY_VIOLATION: 1008,
  /** A frame broke the WebSocket protocol (ws closes the connection itself). */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not UTF-8 (ws closes the connection itself). */
  INVALID_PAYLOAD: 1007,
  /** An incoming frame was larger than MAX_MESSAGE_BYTES. */
  MESSAGE_TOO_BIG: 1009,
  /** Service restart: reconnect after a short delay. */
  SERVICE_RESTART: 1012,
  /** Missing, invalid, expired or revoked token, or no token in time. Get a fresh token first. */
  UNAUTHORIZED: 4001,
  /** Disconnected by an operator (admin.disconnectUser): do not reconnect with the same token. */
  DISCONNECTED: 4003,
  /** The user already has MAX_CONNECTIONS_PER_USER connections. */
  TOO_MANY_CONNECTIONS: 4008,
  /** The connection's outbound buffer passed SLOW_CONSUMER_BYTES; resume from the last event id. */
  SLOW_CONSUMER: 4013,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

/** Close codes after which reconnecting (and resuming) is the right move. */
export const reconnectableCloseCodes: ReadonlySet<number> = new Set([1001, 1006, 1012, CloseCode.SLOW_CONSUMER]);
