import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { build as buildDashboard } from 'vite';

/**
 * `npm run build`: everything `npm start` runs, into dist/, so a production
 * install needs no dev tool (`npm ci --omit=dev`, then `npm start`):
 *
 * - dist/server/main.js: the server (server/main.ts) bundled by esbuild, ESM for
 *   Node 20, with a source map. Packages stay imports (`packages: 'external'`):
 *   they come from node_modules, as package-lock.json pins them.
 * - dist/scripts/token.js: `npm run token` (scripts/token.ts), the same way.
 * - dist/dashboard/: the dashboard, built by Vite (client/dashboard/vite.config.ts).
 * - dist/build.json: when the build started; scripts/ensureBuilt.mjs compares
 *   the sources' times with it.
 *
 * The build is written to a folder of its own and then swapped in for dist/,
 * so a server starting meanwhile, or another build running at the same time,
 * never sees half a build.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const staging = join(root, `.dist-staging-${process.pid}`);
const startedAt = Date.now();

try {
  await rm(staging, { recursive: true, force: true });
  const bundled = await build({
    absWorkingDir: root,
    entryPoints: { 'server/main': 'server/main.ts', 'scripts/token': 'scripts/token.ts' },
    outdir: staging,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  await buildDashboard({
    configFile: join(root, 'client/dashboard/vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: join(staging, 'dashboard'), emptyOutDir: true },
  });
  await writeFile(join(staging, 'build.json'), `${JSON.stringify({ startedAt: new Date(startedAt).toISOString() }, null, 2)}\n`);
  await swapIn();
  for (const output of Object.keys(bundled.metafile.outputs).filter((path) => path.endsWith('.js'))) {
    const file = join(dist, relative(staging, join(root, output)));
    process.stdout.write(`${relative(root, file)}  ${Math.round((await stat(file)).size / 1024)} kB\n`);
  }
  process.stdout.write(`dist/dashboard/\nbuilt in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
} catch (error) {
  await rm(staging, { recursive: true, force: true });
  // esbuild and Vite have printed what failed; anything else (a rename, a full disk) says it here.
  const systemError = (error as NodeJS.ErrnoException | null)?.syscall !== undefined;
  process.stderr.write(systemError ? `npm run build failed: ${String(error)}\n` : 'npm run build failed (above)\n');
  process.exit(1);
}

/** Replaces dist/ by the staging folder: the old one is moved aside, then deleted. */
async function swapIn() {
  const old = join(root, `.dist-old-${process.pid}`);
  for (let attempt = 0; ; attempt++) {
    await rename(dist, old).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    try {
      await rename(staging, dist);
      break;
    } catch (err) {
      // Another build put its dist/ in place between the two renames: move that one aside too.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt === 5) throw err;
      await rm(old, { recursive: true, force: true });
    }
  }
  await rm(old, { recursive: true, force: true });
}
