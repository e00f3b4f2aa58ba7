import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, waitForPort } from '../../lib/local/ports';
import { seedSampleCollections } from '../../lib/local/sampleData';
import { dropCollectionsWithPrefix, expectSameRows } from '../support/rows';

const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `cli_${randomBytes(3).toString('hex')}_`;
const bin = path.resolve('bin/milvus-migrate.mjs');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would, in its own process. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let names: string[];

beforeAll(async () => {
  names = await seedSampleCollections(sourceUri, { prefix, sizes: { products: 120, articles: 90, clicks: 60 } });
});

afterAll(async () => {
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('milvus-migrate run', () => {
  it('runs an offline migration and prints only the final job as JSON, exit code 0', async () => {
    const [, articles] = names as [string, string];
    const { code, stdout, stderr } = await cli([
      'run', '--type', 'offline', '--source-uri', sourceUri, '--target-uri', targetUri,
      '--collection', `${articles}:${articles}_renamed`, '--json',
    ]);
    expect(code, stderr).toBe(0);
    const job = JSON.parse(stdout);
    expect(job).toMatchObject({ status: 'SUCCESSFUL', type: 'offline' });
    expect(job.jobId).toMatch(/^mig-/);
    // Progress went to stderr, not stdout.
    expect(stderr).toContain(job.jobId);
    await expectSameRows(sourceUri, articles, targetUri, `${articles}_renamed`);
  });

  it('takes the POST /migrations body from a file', async () => {
    const [products] = names as [string];
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'request-')), 'request.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'offline',
        source: { uri: sourceUri },
        target: { uri: targetUri },
        databases: [{ name: 'default', collections: [{ name: products, targetName: `${products}_from_file` }] }],
        options: { indexPolicy: 'autoindex' },
      }),
    );
    const { code, stdout, stderr } = await cli(['run', '--request', file, '--json']);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout).status).toBe('SUCCESSFUL');
    await expectSameRows(sourceUri, products, targetUri, `${products}_from_file`);
  });

  it('exits 1 with the failed job when the migration fails', async () => {
    const { code, stdout } = await cli(['run', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${prefix}absent`, '--json']);
    expect(code).toBe(1);
    const job = JSON.parse(stdout);
    expect(job.status).toBe('FAILED');
    expect(job.error.code).toBe('COLLECTION_NOT_FOUND');
  });

  it('refuses a bad request with one line naming the problem, exit code 2', async () => {
    const { code, stdout, stderr } = await cli(['run', '--source-uri', 'not a uri', '--target-uri', targetUri]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('source.uri');
  });
});

describe('milvus-migrate serve and the API commands', () => {
  it('creates a job through the local API, then shows its status and events', async () => {
    const [, , clicks] = names as [string, string, string];
    const port = await freePort();
    const server = spawn(process.execPath, [bin, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitForPort(port, 60_000);
      const api = `http://127.0.0.1:${port}`;
      const created = await cli(['create', '--api', api, '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${clicks}:${clicks}_served`, '--json']);
      expect(created.code, created.stderr).toBe(0);
      const { jobId } = JSON.parse(created.stdout);
      let status = '';
      for (let i = 0; i < 240 && !['SUCCESSFUL', 'FAILED'].includes(status); i++) {
        await new Promise((r) => setTimeout(r, 250));
        const shown = await cli(['status', jobId, '--api', api, '--json']);
        status = JSON.parse(shown.stdout).status;
      }
      expect(status).toBe('SUCCESSFUL');
      const events = await cli(['events', jobId, '--api', api, '--json']);
      const types = JSON.parse(events.stdout).items.map((e: { type: string }) => e.type);
      expect(types[0]).toBe('JobCreated');
      expect(types.at(-1)).toBe('JobSucceeded');
      const unknown = await cli(['status', 'mig-does-not-exist', '--api', api]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/404: no job with id mig-does-not-exist/);
      expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('close', r));
    }
  });
});

describe('milvus-migrate preflight', () => {
  it('reports collections, rows and an estimate on milvus-lite, exit code 0, nothing written', async () => {
    const [products] = names as [string];
    const { code, stdout, stderr } = await cli(['preflight', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${products}:${products}_pf`, '--json']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ ok: true, source: { reachable: true }, target: { reachable: true }, problems: [] });
    expect(report.collections).toEqual([expect.objectContaining({ source: `default.${products}`, target: `default.${products}_pf`, action: 'create', rows: 120 })]);
    expect(report.estimate.costUsd.total).toBeGreaterThan(0);
    const human = await cli(['preflight', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${products}:${products}_pf`]);
    expect(human.stdout).toContain('preflight passed: nothing was written');
  });

  it('says why an unreachable source cannot be reached, exit code 1', async () => {
    const { code, stdout } = await cli(['preflight', '--source-uri', '127.0.0.1:1', '--target-uri', targetUri]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/source 127\.0\.0\.1:1: NOT reachable \(.+\)/);
    expect(stdout).toContain('problem SOURCE_UNREACHABLE');
  });
});
