import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, waitForPort } from '../../local/ports';
import { seedSampleCollections } from '../../local/sampleData';
import { dropCollectionsWithPrefix, expectSameRows } from '../support/rows';

/** `milvus-migrate resume` against `milvus-migrate serve`, as a user runs it, each command in its own process. */

const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `cliresume_${randomBytes(3).toString('hex')}_`;
const bin = path.resolve('bin/milvus-migrate.mjs');
const TOKEN = `TokenMarker${randomBytes(6).toString('hex')}`;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => (running.delete(child), resolve({ code, stdout, stderr })));
  });
}

let server: ChildProcess;
let api: string;

beforeAll(async () => {
  const port = await freePort();
  server = spawn(process.execPath, [bin, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port, 150_000);
  api = `http://127.0.0.1:${port}`;
}, 180_000);

afterAll(async () => {
  await Promise.all([...running].map((child) => new Promise((resolve) => (child.once('close', resolve), child.kill('SIGTERM')))));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('close', r));
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('milvus-migrate resume', () => {
  it('continues a FAILED job once its cause is fixed: PENDING, then SUCCESSFUL with the rows; a SUCCESSFUL job is refused with one line, exit code 2', async () => {
    // The collection is missing when the job runs: it fails in Preflight.
    const created = await cli(['create', '--api', api, '--json', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${prefix}clicks`]);
    expect(created.code, created.stderr).toBe(0);
    const jobId: string = JSON.parse(created.stdout).jobId;
    const failed = await cli(['watch', jobId, '--api', api, '--interval', '0.2']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/COLLECTION_NOT_FOUND/);

    await seedSampleCollections(sourceUri, { prefix, sizes: { products: 0, articles: 0, clicks: 75 } });
    const resumed = await cli(['resume', jobId, '--api', api, '--json', '--source-token', TOKEN], { MILVUS_TARGET_TOKEN: TOKEN });
    expect(resumed.code, resumed.stderr).toBe(0);
    const job = JSON.parse(resumed.stdout);
    expect(job).toMatchObject({ jobId, status: 'PENDING', executions: [{ run: 1, status: 'FAILED', error: { code: 'COLLECTION_NOT_FOUND' } }, { run: 2, rowsKept: 0 }] });
    expect(resumed.stdout).not.toContain(TOKEN);

    const watched = await cli(['watch', jobId, '--api', api, '--interval', '0.2']);
    expect(watched.code, watched.stderr + watched.stdout).toBe(0);
    expect(await expectSameRows(sourceUri, `${prefix}clicks`, targetUri, `${prefix}clicks`)).toBe(75);
    const events = await cli(['events', jobId, '--api', api]);
    expect(events.stdout).toMatch(/JobResumed +resumed \(run 2\) after COLLECTION_NOT_FOUND: 0 row\(s\) copied before are kept/);
    expect(events.stdout).not.toContain(TOKEN);

    const human = await cli(['resume', jobId, '--api', api]);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr.trim().split('\n')).toHaveLength(1);
    expect(human.stderr).toMatch(new RegExp(`^milvus-migrate: POST /migrations/${jobId}/resume answered 409: job ${jobId} is SUCCESSFUL; only a FAILED job can be resumed`));
  }, 240_000);
});
