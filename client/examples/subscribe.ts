/**
 * The smallest real subscriber. Run `npx tsx client/examples/subscribe.ts --help` for its usage.
 *
 * Prints every event of the investigation as it arrives, and the folded state
 * after each; Ctrl-C to stop. Once subscribed, it reconnects and resumes by
 * itself (the SDK does). When it cannot get there in the first place (no
 * server, a wrong URL, a refused token) it says why on one line and exits 1.
 */
import WebSocket from 'ws';
import { CloseCode } from '../../shared/closeCodes';
import { paths } from '../../shared/paths';
import { type ConnectionState, createRealtimeClient, investigationFold } from '../index';

const defaultUrl = `ws://localhost:8000${paths.ws}`;
const urlVariable = 'REALTIME_URL';
/** How long one attempt to open the WebSocket may take, and the first subscription (a server that accepts but never answers). */
const connectTimeoutMs = 10_000;
const subscribeTimeoutMs = 15_000;

const usage = `usage: npx tsx client/examples/subscribe.ts <token> [investigationId] [url]

  token            a JWT the server accepts: \`npm start\` prints a "user token" in development mode
  investigationId  the investigation to follow (default: inv-1)
  url              the server's WebSocket endpoint: this argument, else $${urlVariable},
                   else ${defaultUrl}

Prints each event of the investigation as one JSON line, and the state folded from
them; Ctrl-C to stop. Exits 1 with one line saying why when it cannot connect or
subscribe, 2 on a usage error.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usage);
  process.exit(0);
}
const [token, investigationId = 'inv-1', urlArgument] = args;
const url = urlArgument ?? process.env[urlVariable] ?? defaultUrl;
if (!token || args.length > 3) usageError(token ? 'too many arguments' : 'a token is required');
if (!isWebSocketUrl(url)) usageError(`not a ws:// or wss:// URL: ${url}`);

/** The last error of a socket that could not open (ws says why: refused, not found, HTTP 404, …). */
let openError: Error | undefined;
/** A socket was opened at least once: what follows is the server's answer, not the network's. */
let opened = false;
/** The server confirmed the subscription at least once: from then on drops are the SDK's to repair. */
let subscribed = false;
let stopping = false;
/** The subscription failed on the client's side before the server answered; the connection state tells why. */
let clientError: string | undefined;

/** `ws`'s WebSocket (Node.js 20 has no global one), with a bound on the handshake and a note of why an attempt failed. */
class DiagnosedWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { handshakeTimeout: connectTimeoutMs });
    // Listeners added here run before the SDK's, so the cause is known when the state changes.
    this.on('error', (error) => {
      openError = error;
    });
    this.on('open', () => {
      opened = true;
    });
  }
}

const client = createRealtimeClient({ url, getToken: () => token!, WebSocket: DiagnosedWebSocket });
process.stderr.write(`connecting to ${url} …\n`);
client.onStateChange(onState);
const subscribeDeadline = setTimeout(() => {
  if (!subscribed) {
    fail(
      opened
        ? `${url} accepted the WebSocket but did not confirm the subscription within ${subscribeTimeoutMs / 1000} s — is it the Cidadão.AI realtime server?`
        : `cannot connect to ${url}: no answer within ${subscribeTimeoutMs / 1000} s${clientError ? ` (${clientError})` : ''}`,
    );
  }
}, subscribeTimeoutMs);

const topic = client.investigation(investigationId);
topic.onStarted(() => {
  subscribed = true;
  clearTimeout(subscribeDeadline);
  process.stdout.write(`subscribed to investigation ${investigationId}\n`);
});
topic.onError((err) => {
  const { code, reason } = err.data ?? {};
  if (!code && !subscribed) {
    // Not the server's answer but the client's: the socket closed under the
    // request (a refused token is closed as soon as it is read). The close
    // code, which the connection state reports next, says why.
    clientError = err.message;
    return;
  }
  fail(
    code
      ? `the server refused the subscription to investigation ${investigationId} (${code}${reason ? `, ${reason}` : ''}): ${err.message}`
      : `the subscription to investigation ${investigationId} ended: ${err.message}`,
  );
});
topic.onEvent((event) => {
  const line = { id: event.id, type: event.type, timestamp: event.timestamp.toISOString(), data: event.data };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});

// The same state the React hook shows, folded once from the retained history; it shares the subscription above.
const folded = topic.fold(investigationFold);
folded.subscribe(() => {
  const { status, progress, anomalyCount } = folded.getSnapshot().state;
  process.stdout.write(`  state: ${status ?? 'no status'}, ${progress ?? 0}%, ${anomalyCount} anomalies\n`);
});

process.once('SIGINT', () => {
  stopping = true;
  void client.close().then(() => process.exit(0));
});

function onState(state: ConnectionState) {
  if (stopping || (state.status !== 'reconnecting' && state.status !== 'closed')) return;
  // A refused token is refused again on every attempt: no use retrying it.
  if (state.code === CloseCode.UNAUTHORIZED) return fail(tokenRefused(state.reason));
  if (!subscribed) return fail(cannotConnect(state.code, state.reason));
  if (state.status === 'reconnecting') {
    process.stderr.write(
      `connection lost (${state.code ?? 'no socket'}: ${state.reason}); reconnecting in ${(state.nextDelayMs / 1000).toFixed(1)} s, then resuming\n`,
    );
  } else {
    fail(`the server closed the connection (${state.code}: ${state.reason})`);
  }
}

function tokenRefused(reason: string): string {
  const why = reason.startsWith('token_expired')
    ? 'it has expired'
    : reason.startsWith('token_missing')
      ? 'it was missing'
      : 'it is not one this server issued, or it is malformed';
  return `${url} refused the token (close 4001, ${reason}): ${why} — use a fresh one (npm start prints a "user token")`;
}

function cannotConnect(code: number | null, reason: string): string {
  const error = openError;
  if (error && !opened) return `cannot connect to ${url}: ${describeOpenError(error)}`;
  if (code === CloseCode.TOO_MANY_CONNECTIONS)
    return `${url} refused the connection (close 4008): this user already has too many connections`;
  return `cannot connect to ${url}: closed with ${code ?? 'no socket'} (${reason})`;
}

/** ws's errors for a socket that never opened, in a newcomer's words. */
function describeOpenError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code ?? (error as { errors?: NodeJS.ErrnoException[] }).errors?.[0]?.code;
  if (code === 'ECONNREFUSED') return 'connection refused — is the server running? (npm start)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host ${new URL(url).hostname} not found`;
  if (code === 'ETIMEDOUT' || /handshake has timed out/i.test(error.message)) return `no answer within ${connectTimeoutMs / 1000} s`;
  const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
  if (status) return `the server answered HTTP ${status} instead of a WebSocket — is the path right? (it is ${paths.ws})`;
  return error.message || String(code ?? error);
}

function isWebSocketUrl(candidate: string): boolean {
  if (!URL.canParse(candidate)) return false;
  const { protocol } = new URL(candidate);
  return protocol === 'ws:' || protocol === 'wss:';
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${usage}`);
  process.exit(2);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
