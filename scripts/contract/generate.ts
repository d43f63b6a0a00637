import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractFiles } from './files';

/** `npm run contract`: rewrites contract/ from the zod schemas and the router. */
const dir = fileURLToPath(new URL('../../contract/', import.meta.url));
const files = contractFiles();
await rm(dir, { recursive: true, force: true });
for (const [path, text] of files) {
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), text);
}
console.log(`contract/: ${files.size} files written`);
