import { randomBytes } from 'node:crypto';
import { paths } from '../shared/paths';
import { issueToken } from './auth/issueToken';
import { ConfigError, configFromEnv } from './config';
import { createRealtimeServer } from './index';

const devUserClaims = { sub: 'dev-user', roles: ['user'], investigations: ['*'], analyses: ['*'] };

/**
 * Reads the environment and builds the server. A wrong value stops the start
 * with a message naming the variable: both steps check it (configFromEnv the
 * values, createRealtimeServer the number of JWT_SECRET keys).
 */
function load() {
  try {
    const { config, devMode } = configFromEnv(process.env, () => randomBytes(32).toString('base64url'));
    // 24 h, or less when MAX_TOKEN_LIFETIME_SECONDS is lower: the server would refuse longer ones.
    const devLifetime = { expiresInSeconds: Math.min(86_400, config.limits.MAX_TOKEN_LIFETIME_SECONDS) };
    const server = createRealtimeServer({
      ...config,
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
 * `npm start`: reads the environment, starts the server, and in development
 * mode (no JWT_SECRET, NODE_ENV not production) prints ready-made tokens.
 */
async function main() {
  const { config, devMode, devLifetime, server } = load();
  const address = await server.listen();

  const lines = [
    '',
    `Cidadão.AI realtime is listening (${config.redisUrl ? 'redis' : 'in-memory'} engine)`,
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

  const shutdown = (signal: string) => {
    process.stdout.write(`${signal}: closing connections (1001) and stopping\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/** `24 hours`, `90 minutes`, `45 seconds`: the largest unit that divides it. */
function validFor(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

void main();
