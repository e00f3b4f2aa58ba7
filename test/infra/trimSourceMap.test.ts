import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script run by the bundling, without type declarations
import { trimSourceMap } from '../../infra/bundling/trimSourceMap.mjs';

const dir = mkdtempSync(join(tmpdir(), 'trim-source-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bundle(minify: boolean): { code: string; map: any } {
  mkdirSync(join(dir, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'dep', 'index.js'), 'export function depWork(x) {\n  const twice = x * 2;\n  return twice + 1;\n}\nexport const unused = () => depWork(3);\n');
  writeFileSync(join(dir, 'main.js'), "import { depWork } from 'dep';\nexport function handler(event) {\n  const value = depWork(event.n);\n  if (value > 10) throw new Error('too big');\n  return value;\n}\n");
  const out = join(dir, minify ? 'min.mjs' : 'out.mjs');
  buildSync({ entryPoints: [join(dir, 'main.js')], bundle: true, format: 'esm', platform: 'node', minify, sourcemap: true, sourcesContent: false, outfile: out, absWorkingDir: dir, logLevel: 'silent' });
  return { code: readFileSync(out, 'utf8'), map: JSON.parse(readFileSync(`${out}.map`, 'utf8')) };
}

describe('trimSourceMap', () => {
  for (const minify of [false, true]) {
    it(`keeps every mapping into our sources and unmaps those into node_modules (${minify ? 'minified' : 'plain'})`, () => {
      const { code, map } = bundle(minify);
      const trimmed = trimSourceMap(map);
      expect(trimmed.sources).toEqual(['main.js']);
      const before = new SourceMap(map);
      const after = new SourceMap(trimmed);
      let ours = 0;
      let theirs = 0;
      code.split('\n').forEach((text, line) => {
        for (let column = 0; column < text.length; column++) {
          const original = before.findEntry(line, column) as any;
          const kept = after.findEntry(line, column) as any;
          if (original.originalSource?.endsWith('main.js')) {
            ours++;
            expect(kept).toEqual(original);
          } else if (original.originalSource) {
            theirs++;
            expect(kept.originalSource).toBeUndefined();
          }
        }
      });
      expect(ours).toBeGreaterThan(0);
      expect(theirs).toBeGreaterThan(0);
    });
  }
});
