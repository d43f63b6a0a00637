// `prestart` and `pretoken`: makes sure dist/ (npm run build) is there and current
// before `npm start` or `npm run token` runs it. Plain JavaScript, so it runs
// where tsx is not installed.
//
// - Dev tools installed (a checkout after `npm install`): builds when dist/ is
//   missing or older than a source file, so `npm install && npm start` does
//   everything on a fresh clone and never runs stale code after an edit.
// - Dev tools absent (`npm ci --omit=dev`): never builds, only requires that
//   dist/server/main.js exists, with one line saying what to do if not.
//
// It prints nothing on stdout (the build's output goes to stderr), so
// `TOKEN=$(npm run -s token -- …)` captures the token alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outputs = ['dist/server/main.js', 'dist/scripts/token.js', 'dist/dashboard/index.html', 'dist/build.json'];
/** What the build reads: a change to any of them makes dist/ stale. */
const inputs = ['server', 'shared', 'client', 'scripts/build.ts', 'scripts/token.ts', 'package.json', 'package-lock.json', 'tsconfig.json'];
/** Folders under the inputs that no build reads. */
const skipped = new Set(['node_modules', 'dist', 'python', '__pycache__', '.pytest_cache']);

const devToolsInstalled = existsSync(join(root, 'node_modules/.bin/esbuild')) && existsSync(join(root, 'node_modules/.bin/vite'));

if (!devToolsInstalled) {
  if (!existsSync(join(root, 'dist/server/main.js'))) {
    process.stderr.write(
      'dist/server/main.js is missing: run `npm run build` where the dev dependencies are installed (`npm ci`), then ship dist/ with package.json and package-lock.json\n',
    );
    process.exit(1);
  }
  process.exit(0);
}

const reason = staleness();
if (reason) {
  process.stderr.write(`Building dist/ (${reason}): npm run build\n`);
  // npm_execpath: the npm that runs this script; the build command lives in package.json alone.
  const npm = process.env.npm_execpath;
  const result = npm
    ? spawnSync(process.execPath, [npm, 'run', '-s', 'build'], { cwd: root, stdio: ['ignore', 2, 2] })
    : spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 2, 2], shell: process.platform === 'win32' });
  // The build has said why it failed.
  if (result.status !== 0) process.exit(1);
}

/** Why dist/ must be built again, or null when it is current. */
function staleness() {
  const missing = outputs.find((path) => !existsSync(join(root, path)));
  if (missing) return `${missing} is missing`;
  let builtAt;
  try {
    builtAt = Date.parse(JSON.parse(readFileSync(join(root, 'dist/build.json'), 'utf8')).startedAt);
  } catch {
    return 'dist/build.json is unreadable';
  }
  if (!Number.isFinite(builtAt)) return 'dist/build.json has no time';
  const changed = newerThan(builtAt);
  return changed ? `${changed} changed since the last build` : null;
}

/** The first input modified after `time` (milliseconds), or null. */
function newerThan(time) {
  const pending = [...inputs];
  while (pending.length > 0) {
    const path = pending.pop();
    let info;
    try {
      info = statSync(join(root, path));
    } catch {
      continue;
    }
    if (info.isDirectory()) {
      for (const entry of readdirSync(join(root, path))) if (!skipped.has(entry)) pending.push(`${path}/${entry}`);
    } else if (info.mtimeMs > time) {
      return path;
    }
  }
  return null;
}
