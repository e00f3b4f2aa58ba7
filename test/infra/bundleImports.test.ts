import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const sources = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

// What keeps the Lambda bundles small (bench/coldStart.ts measures them).
describe('imports of the code the Lambda functions bundle', () => {
  it('take zod as a namespace, so the bundles keep only the zod functions used (not its `z` object and every locale)', () => {
    const offenders = [...sources('lib'), ...sources('functions')].filter((file) => /import\s*\{\s*z\s*\}\s*from\s*'zod'/.test(readFileSync(join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
