import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, test } from 'vitest';
import { keyId, tokenKeys } from '../server/auth/tokenKeys';
import { verifyToken } from '../server/auth/verifyToken';
import { spawnProcess } from './support/spawned';

/**
 * `npm run -s token -- …` (scripts/token.ts). `npm run token` runs the built
 * file (dist/scripts/token.js, test/production.test.ts runs it so); here the
 * source runs with tsx, so this suite needs no build.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const SIGNING_KEY = 'the-key-that-signs-tokens-0123456789';
const RETIRED_KEY = 'a-retired-key-still-verifying-0123456';

async function tokenCli(args: string[], env: Record<string, string | undefined> = { JWT_SECRET: SIGNING_KEY }) {
  await using proc = spawnProcess(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], { cwd: repoRoot, env });
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** One line on stderr, nothing on stdout, exit 1. */
function expectOneLineError(result: { code: number | null; stdout: string; stderr: string }, mentions: string) {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toContain(mentions);
}

describe('npm run token', () => {
  test('prints a token and nothing else, signed with the first key of JWT_SECRET, that the server accepts with the claims asked for', async () => {
    const jwtSecret = `${SIGNING_KEY},${RETIRED_KEY}`;
    const result = await tokenCli(
      ['--sub', 'alice', '--role', 'user', '--role', 'admin', '--investigations', 'inv-1,inv-2', '--analyses', '*', '--ttl', '15m'],
      {
        JWT_SECRET: jwtSecret,
      },
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = result.stdout.trim();

    const verified = await verifyToken(token, tokenKeys(jwtSecret, 86_400));
    if (!verified.ok) throw new Error(`refused: ${JSON.stringify(verified.error)}`);
    expect(verified.principal.userId).toBe('alice');
    expect([...verified.principal.roles]).toEqual(['user', 'admin']);
    expect([...verified.principal.investigations]).toEqual(['inv-1', 'inv-2']);
    expect([...verified.principal.analyses]).toEqual(['*']);

    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', kid: keyId(SIGNING_KEY) });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(15 * 60);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    // A fresh jti every time.
    const again = decodeJwt((await tokenCli(['--sub', 'alice'])).stdout.trim());
    expect(again.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(again.jti).not.toBe(claims.jti);
  });

  test('defaults: role user, one hour; roles may be a comma list; every --ttl unit', async () => {
    const plain = decodeJwt((await tokenCli(['--sub', 'bob'])).stdout.trim());
    expect(plain).toMatchObject({ sub: 'bob', roles: ['user'] });
    expect(plain.exp! - plain.iat!).toBe(3600);
    expect(plain.investigations).toBeUndefined();

    const service = decodeJwt((await tokenCli(['--sub', 'svc', '--role', 'service,admin', '--ttl', '1d'])).stdout.trim());
    expect(service.roles).toEqual(['service', 'admin']);
    expect(service.exp! - service.iat!).toBe(86_400);
    const short = decodeJwt((await tokenCli(['--sub', 'svc', '--ttl', '90s'])).stdout.trim());
    expect(short.exp! - short.iat!).toBe(90);
  });

  test('a --ttl beyond MAX_TOKEN_LIFETIME_SECONDS, or not a duration, is one line of error and exit 1', async () => {
    expectOneLineError(await tokenCli(['--sub', 'alice', '--ttl', '2d']), 'MAX_TOKEN_LIFETIME_SECONDS');
    expectOneLineError(
      await tokenCli(['--sub', 'alice', '--ttl', '2h'], { JWT_SECRET: SIGNING_KEY, MAX_TOKEN_LIFETIME_SECONDS: '3600' }),
      'MAX_TOKEN_LIFETIME_SECONDS (3600 s)',
    );
    expectOneLineError(await tokenCli(['--sub', 'alice', '--ttl', 'soon']), '--ttl');
    expectOneLineError(await tokenCli(['--sub', 'alice', '--ttl', '0s']), '--ttl');
  });

  test('JWT_SECRET missing or too short, --sub missing, an unknown role or option: one line of error and exit 1', async () => {
    expectOneLineError(await tokenCli(['--sub', 'alice'], {}), 'JWT_SECRET');
    expectOneLineError(await tokenCli(['--sub', 'alice'], { JWT_SECRET: 'short' }), 'JWT_SECRET');
    expectOneLineError(await tokenCli([]), '--sub');
    expectOneLineError(await tokenCli(['--sub', 'alice', '--role', 'root']), '--role');
    expectOneLineError(await tokenCli(['--sub', 'alice', '--expires', '1h']), '--expires');
  });

  test('--help prints the options and exits 0', async () => {
    const result = await tokenCli(['--help'], {});
    expect(result.code).toBe(0);
    for (const option of ['--sub', '--role', '--investigations', '--analyses', '--ttl']) expect(result.stdout).toContain(option);
  });
});
