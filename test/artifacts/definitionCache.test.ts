import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stateMachineDefinition, synthesizeTemplate } from '../../infra/synth';
import { synthesizedDefinition } from '../../local/definitionCache';

/** The local runtime's state machine comes from a cache keyed by the content of its sources. */
const cacheDir = mkdtempSync(join(tmpdir(), 'definition-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('synthesizedDefinition', () => {
  it('is the synthesized definition, written once and read back while the sources are unchanged', async () => {
    const first = await synthesizedDefinition({ cacheDir });
    expect(first).toEqual(stateMachineDefinition(synthesizeTemplate()));
    const files = readdirSync(cacheDir);
    expect(files).toEqual([expect.stringMatching(/^state-machine-[0-9a-f]{16}\.json$/)]);

    // A second start reads the file instead of synthesizing: what the file holds is what it gets.
    const file = join(cacheDir, files[0]!);
    const cached = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...cached, definition: { ...cached.definition, Comment: 'read from the cache' } }));
    expect((await synthesizedDefinition({ cacheDir })).definition.Comment).toBe('read from the cache');
    expect(readdirSync(cacheDir)).toHaveLength(1);
  });
});
