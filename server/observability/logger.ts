import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * One JSON event per line. Tokens never reach a log line: the only places that
 * see one are the auth functions, which log a reason, not the token, and URLs
 * are logged without their query string.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'cidadao-realtime' },
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'connectionParams'],
      censor: '[redacted]',
    },
  };
  // A destination (main.ts: pino-pretty on a terminal in development) or stdout, one JSON line per event.
  return destination ? pino(options, destination) : pino(options);
}
