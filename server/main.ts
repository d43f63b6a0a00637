import { randomBytes } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { paths } from '../shared/paths';
import { issueToken } from './auth/issueToken';
import { ConfigError, configFromEnv, type RealtimeConfig } from './config';
import { createRealtimeServer, type ListenAddress } from './index';
import { createLogger } from './observability/logger';

const devUserClaims = { sub: 'dev-user', roles: ['user'], investigations: ['*'], analyses: ['*'] };

/**
 * Log lines for a person: pino-pretty on a terminal in development. It is a
 * dev dependency, so a production install (`npm ci --omit=dev`) has none and
 * logs stay one JSON object per line, as they do whenever stdout is not a
 * terminal (a container, a pipe, a test).
 */
async function prettyLogStream(): Promise<DestinationStream | undefined> {
  if (!process.stdout.isTTY || process.env.NODE_ENV === 'production') return undefined;
  try {
    const { default: pretty } = await import('pino-pretty');
    // One line per event, led by its name (the server logs `event`, not `msg`). Synchronous,
    // so the last lines before process.exit are written.
    return pretty({
      sync: true,
      singleLine: true,
      messageFormat: '{if event}{event}{end}{if msg} {msg}{end}',
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service,event',
    });
  } catch {
    return undefined;
  }
}

/**
 * Reads the environment and builds the server. A wrong value stops the start
 * with a message naming the variable: both steps check it (configFromEnv the
 * values, createRealtimeServer the number of JWT_SECRET keys).
 */
async function load() {
  try {
    const { config, devMode } = configFromEnv(process.env, () => randomBytes(32).toString('base64url'));
    // 24 h, or less when MAX_TOKEN_LIFETIME_SECONDS is lower: the server would refuse longer ones.
    const devLifetime = { expiresInSeconds: Math.min(86_400, config.limits.MAX_TOKEN_LIFETIME_SECONDS) };
    const server = createRealtimeServer({
      ...config,
      logger: createLogger(config.logLevel, await prettyLogStream()),
      // Pre-fills the dashboard's sign-in form; only in development mode.
      dashboard: devMode ? { devToken: () => issueToken(config.jwtSecret, devUserClaims, devLifetime) } : {},
    });
    return { config, devMode, devLifetime, server };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Why the port could not be bound, as one line naming the variable to change,
 * or null for a failure without such a line (then the error itself is thrown).
 */
function listenFailure(error: unknown, config: RealtimeConfig): string | null {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return `port ${config.port} is in use: set PORT`;
    case 'EACCES':
      return `port ${config.port} needs privileges this process does not have: set PORT (1024 or above)`;
    case 'EADDRNOTAVAIL':
      return `HOST ${config.host} is not an address of this machine: set HOST`;
    default:
      return null;
  }
}

/**
 * `npm start`: reads the environment, starts the server, and in development
 * mode (no JWT_SECRET, NODE_ENV not production) prints ready-made tokens.
 */
async function main() {
  const { config, devMode, devLifetime, server } = await load();
  let address: ListenAddress;
  try {
    address = await server.listen();
  } catch (error) {
    const line = listenFailure(error, config);
    if (line === null) throw error;
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }

  const lines = [
    '',
    `Cidadão.AI realtime is listening on ${address.bound} (${config.redisClusterNodes?.length ? 'redis cluster' : config.redisUrl ? 'redis' : 'in-memory'} engine)`,
    `  WebSocket  ${address.wsUrl}`,
    `  HTTP tRPC  ${address.httpUrl}${paths.trpc}/<procedure>`,
    `  Health     ${address.httpUrl}${paths.health}`,
    `  Metrics    ${address.httpUrl}/metrics`,
  ];
  if (config.serveDashboard) lines.push(`  Dashboard  ${address.httpUrl}/`);
  if (devMode) {
    const user = await issueToken(config.jwtSecret, devUserClaims, devLifetime);
    const service = await issueToken(config.jwtSecret, { sub: 'dev-service', roles: ['service'] }, devLifetime);
    lines.push(
      '',
      'Development mode: JWT_SECRET was not set, so a random secret was generated for this run.',
      `These tokens are valid for ${validFor(devLifetime.expiresInSeconds)} (until the server restarts):`,
      `  user token     ${user}`,
      `  service token  ${service}`,
      '',
      'Try it:',
      `  wscat -c '${address.wsUrl}?token=<user token>'`,
      `  curl -X POST ${address.httpUrl}${paths.trpc}/investigation.notifyUpdate \\`,
      `    -H 'authorization: Bearer <service token>' -H 'content-type: application/json' \\`,
      `    -d '{"investigationId":"inv-1","updateType":"progress","data":{"progress":40}}'`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  // Readiness 503, no new connections, pending batches flushed, clients closed with 1012 in
  // waves within DRAIN_SECONDS (they resume on another node), Redis closed last.
  handleStopSignals(config.drainSeconds, () => server.drain());
}

/**
 * A Ctrl-C in a terminal reaches the whole process group, and `npm start`
 * forwards the SIGINT it got to this process too: the same signal twice
 * within this window is one request to stop, not two.
 */
const SAME_SIGNAL_WINDOW_MS = 1000;

/**
 * SIGTERM (an orchestrator, `kill`) or SIGINT (Ctrl-C): drain, then exit 0;
 * exit 1 when the drain fails or does not end DRAIN_SECONDS + 5 s later. A
 * further signal during the drain exits 1 at once, for whoever will not wait.
 *
 * `npm start` runs `exec node dist/server/main.js`: the shell npm starts
 * replaces itself with node, so the process npm spawned, and forwards SIGTERM
 * and SIGINT to, is this one. Without `exec`, dash (Debian's sh) stays between
 * them, dies of the SIGTERM, and leaves this server running as an orphan.
 */
function handleStopSignals(drainSeconds: number, drain: () => Promise<void>) {
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < SAME_SIGNAL_WINDOW_MS) return;
      process.stderr.write(`${signal} during the drain: exiting now, without waiting for it\n`);
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    process.stdout.write(
      `${signal}: draining (at most ${drainSeconds} s: clients are closed with 1012 and reconnect elsewhere), then exiting\n`,
    );
    setTimeout(
      () => {
        process.stderr.write(`the drain did not end within ${drainSeconds + 5} s: exiting\n`);
        process.exit(1);
      },
      (drainSeconds + 5) * 1000,
    ).unref();
    drain().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`the drain failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** `24 hours`, `90 minutes`, `45 seconds`: the largest unit that divides it. */
function validFor(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

void main();
