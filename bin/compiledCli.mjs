// The CLI as one compiled JavaScript program: cli/main.ts and everything it imports from this
// repository, bundled by esbuild (npm packages stay imports), built once and kept under
// node_modules/.cache/milvus-migrate/ in a folder named after the hash of what it is built from.
// Compiling the TypeScript at every start (tsx) cost more than a second of CPU before a job could
// start; reading the cached bundle costs none. A change to any source makes a new bundle on the
// next start, so a fresh clone (npm ci) or an edit needs no build step of its own.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** What the bundle is built from: a change to any of these makes a new bundle. */
const SOURCES = ['cli', 'lib', 'local', 'functions', 'infra', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json'];
const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs|json)$/;

function sourceHash() {
  const hash = createHash('sha256').update(repoRoot).update('\0');
  const visit = (path) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (entry !== 'node_modules') visit(join(path, entry));
      return;
    }
    if (!SOURCE_FILE.test(path)) return;
    hash.update(relative(repoRoot, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const source of SOURCES) visit(join(repoRoot, source));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Modules find files beside them with `new URL(..., import.meta.url)`; in a bundle that URL would
 * be the bundle's. Each module's own URL is written in its place (the hash covers the repository's
 * path, so a moved clone builds anew).
 */
const ownModuleUrl = {
  name: 'own-module-url',
  setup(build) {
    build.onLoad({ filter: /\.(ts|mts|cts)$/ }, (args) => {
      if (args.path.includes(`${'/'}node_modules${'/'}`)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/** The path of the compiled CLI's entry, building it first when the sources changed. */
export async function compiledCli() {
  const cacheDir = join(repoRoot, 'node_modules', '.cache', 'milvus-migrate');
  const dir = join(cacheDir, `cli-${sourceHash()}`);
  const entry = join(dir, 'main.mjs');
  if (existsSync(entry)) return entry;
  mkdirSync(cacheDir, { recursive: true });
  // Built aside and renamed, so a build that dies half way never looks finished to the next start.
  const building = `${dir}.${process.pid}.building`;
  rmSync(building, { recursive: true, force: true });
  const { build } = await import('esbuild');
  await build({
    entryPoints: { main: join(repoRoot, 'cli', 'main.ts') },
    outdir: building,
    bundle: true,
    // Commands load what they need when they run (`await import`): one chunk each, so `status` does not load the local runtime.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
    plugins: [ownModuleUrl],
  });
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another start finished the same build first.
    if (!existsSync(entry)) throw error;
    rmSync(building, { recursive: true, force: true });
  }
  return entry;
}
