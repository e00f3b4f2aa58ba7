import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where built things are kept, each in a folder or file named after the hash of its sources. */
export const cacheDir = join(repoRoot, 'node_modules', '.cache', 'milvus-migrate');

/**
 * A short hash of every file under `sources` (paths relative to the repository, folders walked
 * in order, node_modules left out) and of `extra` strings: what a cached build is named after.
 */
export function sourceHash(sources: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash('sha256').update(extra.join('\0'));
  const visit = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (entry !== 'node_modules') visit(join(path, entry));
      return;
    }
    hash.update(relative(repoRoot, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const source of sources) visit(join(repoRoot, source));
  return hash.digest('hex').slice(0, 16);
}
