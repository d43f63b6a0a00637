import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import { describe, expect, test } from 'vitest';
import { contractFiles } from '../scripts/contract/files';

const root = fileURLToPath(new URL('../', import.meta.url));
const contractDir = join(root, 'contract');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

const readJson = async (path: string) => JSON.parse(await readFile(join(contractDir, path), 'utf8')) as Record<string, unknown>;

describe('the generated contract (npm run contract)', () => {
  test('the committed files are what the generator writes now', async () => {
    const fresh = contractFiles();
    const committed = await filesUnder(contractDir);
    expect(committed.sort(), 'contract/ holds other files than the generator writes: run `npm run contract`').toEqual(
      [...fresh.keys()].sort(),
    );
    for (const [path, text] of fresh) {
      expect(await readFile(join(contractDir, path), 'utf8'), `contract/${path} is stale: run \`npm run contract\``).toBe(text);
    }
    // The .d.ts bundle compiles the whole server: about 20 s on two busy cores.
  }, 120_000);

  test('JSON Schema: every event and every input, dates as ISO-8601 strings', async () => {
    const update = await readJson('json-schema/events/investigation_update.json');
    expect(update.properties).toMatchObject({ timestamp: { type: 'string', format: 'date-time' } });
    const status = (update.properties as { data: { anyOf: { properties: Record<string, unknown> }[] } }).data.anyOf[0]!;
    expect(status.properties.timestamp).toEqual({ type: 'string', format: 'date-time' });

    const input = await readJson('json-schema/inputs/investigation.notifyUpdate.json');
    const data = (input as { anyOf: { properties: { data: { properties: Record<string, unknown> } } }[] }).anyOf[0]!.properties.data;
    expect(data.properties.timestamp).toMatchObject({ type: 'string', format: 'date-time' });
    const names = await filesUnder(join(contractDir, 'json-schema'));
    expect(names).toEqual(
      expect.arrayContaining(['events/anomaly_detected.json', 'inputs/notification.send.json', 'inputs/chat.send.json']),
    );
  });

  test('the AsyncAPI document parses with no error and no warning, both dialects in it', async () => {
    const text = await readFile(join(contractDir, 'asyncapi.json'), 'utf8');
    const { document, diagnostics } = await new Parser().parse(text);
    // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document).toBeDefined();
    const addresses = document!
      .channels()
      .all()
      .map((c) => c.address());
    expect(addresses).toEqual(
      expect.arrayContaining([
        '/api/v1/ws',
        '/api/v1/ws/investigations/{investigationId}',
        '/api/v1/ws/analysis/{analysisId}',
        '/api/v1/ws/chat/{sessionId}',
      ]),
    );
    const messages = document!
      .messages()
      .all()
      .map((m) => m.id());
    expect(messages).toEqual(
      expect.arrayContaining(['event.investigation_update', 'json.subscribe', 'json.error', 'trpc.investigation.onUpdate']),
    );
  });

  test('a frontend fixture type-checks against the declaration bundle alone', async () => {
    // The fixture and the bundle, in a directory with no server source and only the packages a frontend has.
    const dir = await mkdtemp(join(tmpdir(), 'contract-frontend-'));
    try {
      const fixture = join(root, 'test/fixtures/frontend');
      for (const file of [...(await filesUnder(fixture)).map((f) => `test/fixtures/frontend/${f}`), 'contract/appRouter.d.ts']) {
        await mkdir(dirname(join(dir, file)), { recursive: true });
        await writeFile(join(dir, file), await readFile(join(root, file)));
      }
      for (const pkg of ['@trpc/client', '@trpc/server', 'superjson', 'zod']) {
        await mkdir(dirname(join(dir, 'node_modules', pkg)), { recursive: true });
        await symlink(join(root, 'node_modules', pkg), join(dir, 'node_modules', pkg), 'dir');
      }
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const run = promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'test/fixtures/frontend/tsconfig.json')]);
      // Correct calls compile, and each `@ts-expect-error` line (a misspelled procedure, a wrong input) is an error.
      await expect(
        run.then(
          () => 'compiles',
          (e: { stdout: string }) => e.stdout,
        ),
      ).resolves.toBe('compiles');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
