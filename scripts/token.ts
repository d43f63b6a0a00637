import { parseArgs } from 'node:util';
import { issueToken, type TokenClaims } from '../server/auth/issueToken';
import { ConfigError, configFromEnv } from '../server/config';

/**
 * `npm run -s token -- --sub alice --role user --investigations inv-1 --ttl 1h`:
 * prints a token signed with the first key of JWT_SECRET, and nothing else on
 * stdout, so `TOKEN=$(npm run -s token -- …)` works. Errors are one line on
 * stderr and exit 1. Bundled to dist/scripts/token.js by `npm run build`.
 */

const roles = ['user', 'service', 'admin'];

const usage = `Usage: npm run -s token -- --sub <user id> [options]

Prints a token signed (HS256) with the first key of JWT_SECRET.

  --sub <id>               the user id (required)
  --role <role>            user, service or admin; repeat it or separate with commas (default: user)
  --investigations <ids>   investigations the user may watch, comma-separated; * for all
  --analyses <ids>         analyses the user may watch, comma-separated; * for all
  --ttl <duration>         lifetime: 90s, 15m, 1h, 1d (default 1h), at most MAX_TOKEN_LIFETIME_SECONDS
  --help                   this text

Example:
  TOKEN=$(JWT_SECRET=... npm run -s token -- --sub alice --investigations inv-1,inv-2 --ttl 15m)
`;

class UsageError extends Error {}

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `1h`, `1d`, or a bare number of seconds. */
function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * units[match[2] || 's']! : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0)
    throw new UsageError(`--ttl ${JSON.stringify(text)}: expected a duration such as 90s, 15m, 1h or 1d`);
  return seconds;
}

/** Every value of a repeatable option, each split at commas. */
function listOf(values: string[] | undefined): string[] | undefined {
  const items = values
    ?.flatMap((value) => value.split(','))
    .map((item) => item.trim())
    .filter(Boolean);
  return items?.length ? items : undefined;
}

async function main(): Promise<string | null> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      role: { type: 'string', multiple: true },
      investigations: { type: 'string', multiple: true },
      analyses: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(usage);
    return null;
  }
  if (!values.sub?.trim()) throw new UsageError('--sub <user id> is required (--help for the options)');
  const role = listOf(values.role) ?? ['user'];
  const unknownRole = role.find((name) => !roles.includes(name));
  if (unknownRole) throw new UsageError(`--role ${JSON.stringify(unknownRole)}: expected ${roles.join(', ')}`);

  if (!process.env.JWT_SECRET?.trim()) {
    throw new UsageError("JWT_SECRET is not set: tokens are signed with the first key of the server's JWT_SECRET");
  }
  // The server's own reading of the environment: the same key rules and the same lifetime bound.
  const { config } = configFromEnv(process.env, () => {
    throw new UsageError('JWT_SECRET is not set');
  });
  const maxSeconds = config.limits.MAX_TOKEN_LIFETIME_SECONDS;
  const ttl = values.ttl === undefined ? Math.min(3600, maxSeconds) : parseTtl(values.ttl);
  if (ttl > maxSeconds) {
    throw new UsageError(
      `--ttl ${values.ttl}: ${ttl} s is longer than MAX_TOKEN_LIFETIME_SECONDS (${maxSeconds} s); the server would refuse the token`,
    );
  }

  const claims: TokenClaims = {
    sub: values.sub.trim(),
    roles: role,
    investigations: listOf(values.investigations),
    analyses: listOf(values.analyses),
  };
  return issueToken(config.jwtSecret, claims, { expiresInSeconds: ttl });
}

try {
  const token = await main();
  if (token) process.stdout.write(`${token}\n`);
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    // One line: a ConfigError lists each wrong variable on a line of its own.
    process.stderr.write(`token: ${(error as Error).message.replace(/:\s*\n\s*/, ': ').replace(/\s*\n\s*/g, '; ')}\n`);
    process.exit(1);
  }
  throw error;
}
