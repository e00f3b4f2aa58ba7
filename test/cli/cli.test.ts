import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ApiClient } from '../../cli/apiClient';
import { freePort, waitForPort } from '../../local/ports';
import { seedSampleCollections } from '../../local/sampleData';
import { dropCollectionsWithPrefix, expectSameRows } from '../support/rows';

const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `cli_${randomBytes(3).toString('hex')}_`;
const bin = path.resolve('bin/milvus-migrate.mjs');
// Every test runs CLI processes, each importing the service and starting a runtime: with the
// suite's other files running beside it on two cores, a minute is not always enough.
vi.setConfig({ testTimeout: 180_000 });

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** CLI processes still running: a test that times out must not leave them (and their DynamoDB Local) behind. */
const running = new Set<ChildProcess>();

/**
 * The suite's DynamoDB Local, for the runtimes of the CLI processes: each would otherwise start
 * its own (a JVM, seconds of CPU). The first `run` test starts its own, as a user's run does.
 */
const SHARED_DYNAMO: NodeJS.ProcessEnv = { MILVUS_MIGRATE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint') };

/** Runs the CLI as a user would, in its own process. */
function cli(args: string[], env: NodeJS.ProcessEnv = SHARED_DYNAMO): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('close', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let names: string[];

interface PolledJob {
  status: string;
  syncLagSeconds?: number | null;
}

/**
 * Waits, asking the API over HTTP, until the job satisfies `done` (or 150 s pass): a `status`
 * process per poll would cost a second of CPU each. The caller then asks the CLI itself.
 */
async function untilJob(api: string, jobId: string, done: (job: PolledJob) => boolean): Promise<void> {
  const client = new ApiClient(api);
  for (const until = Date.now() + 150_000; Date.now() < until; ) {
    if (done((await client.get(jobId)) as PolledJob)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  names = await seedSampleCollections(sourceUri, { prefix, sizes: { products: 120, articles: 90, clicks: 60 } });
});

afterAll(async () => {
  await Promise.all([...running].map((child) => new Promise((resolve) => (child.once('close', resolve), child.kill('SIGTERM')))));
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('milvus-migrate run', () => {
  it('runs an offline migration and prints only the final job as JSON, exit code 0', async () => {
    const [, articles] = names as [string, string];
    // Without MILVUS_MIGRATE_DYNAMODB_ENDPOINT: the run starts and stops its own DynamoDB Local.
    const { code, stdout, stderr } = await cli([
      'run', '--type', 'offline', '--source-uri', sourceUri, '--target-uri', targetUri,
      '--collection', `${articles}:${articles}_renamed`, '--json',
    ], { MILVUS_MIGRATE_DYNAMODB_ENDPOINT: undefined });
    expect(code, stderr).toBe(0);
    const job = JSON.parse(stdout);
    expect(job).toMatchObject({ status: 'SUCCESSFUL', type: 'offline' });
    expect(job.jobId).toMatch(/^mig-/);
    // Progress went to stderr, not stdout.
    expect(stderr).toContain(job.jobId);
    await expectSameRows(sourceUri, articles, targetUri, `${articles}_renamed`);
  });

  it('run --artifacts runs the same migration from the Lambda assets cdk synth built, with the same final job', async () => {
    const [, , clicks] = names as [string, string, string];
    const args = ['run', '--type', 'offline', '--source-uri', sourceUri, '--target-uri', targetUri, '--json'];
    const [inProcess, artifacts] = await Promise.all([
      cli([...args, '--collection', `${clicks}:${clicks}_in_process`]),
      cli([...args, '--collection', `${clicks}:${clicks}_from_assets`, '--artifacts', inject('assemblyDir')]),
    ]);
    expect(artifacts.code, artifacts.stderr).toBe(0);
    expect(inProcess.code, inProcess.stderr).toBe(0);
    const [a, b] = [JSON.parse(inProcess.stdout), JSON.parse(artifacts.stdout)];
    expect(b).toMatchObject({ status: 'SUCCESSFUL', type: 'offline', verification: { passed: true } });
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(artifacts.stderr).not.toContain('would not be allowed');
    await expectSameRows(sourceUri, clicks, targetUri, `${clicks}_from_assets`);
  });

  it('run --type online syncs in this process and cuts over when "confirm" arrives on stdin, exit code 0', async () => {
    const [products] = names as [string];
    const child = spawn(process.execPath, [bin, 'run', '--type', 'online', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${products}:${products}_run_online`, '--json'], {
      env: { ...process.env, ...SHARED_DYNAMO },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let said = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      // Anything but "confirm" is answered with the hint; "confirm" once SYNCING cuts over.
      if (said === 0 && / SYNCING phase=INCREMENTAL_SYNC /.test(stderr)) {
        said = 1;
        child.stdin.write('yes\n');
      }
      if (said === 1 && /type "confirm" once every writer/.test(stderr)) {
        said = 2;
        child.stdin.write('confirm\n');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    running.delete(child);
    expect(code, stderr).toBe(0);
    expect(said).toBe(2);
    expect(stderr).toContain('writes confirmed stopped');
    expect(JSON.parse(stdout)).toMatchObject({ type: 'online', status: 'SUCCESSFUL', syncLagSeconds: 0, cutoverSeconds: expect.any(Number) });
  }, 180_000);

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
    // Without the shared DynamoDB Local: the run starts its own before the request is read (while
    // its modules load), and must stop it, or the process would not exit.
    const { code, stdout, stderr } = await cli(['run', '--source-uri', 'not a uri', '--target-uri', targetUri], { MILVUS_MIGRATE_DYNAMODB_ENDPOINT: undefined });
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
    const server = spawn(process.execPath, [bin, 'serve', '--port', String(port)], { env: { ...process.env, ...SHARED_DYNAMO }, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitForPort(port, 60_000);
      const api = `http://127.0.0.1:${port}`;
      const created = await cli(['create', '--api', api, '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${clicks}:${clicks}_served`, '--json']);
      expect(created.code, created.stderr).toBe(0);
      const { jobId } = JSON.parse(created.stdout);
      await untilJob(api, jobId, (job) => ['SUCCESSFUL', 'FAILED'].includes(job.status));
      const shown = await cli(['status', jobId, '--api', api, '--json']);
      expect(JSON.parse(shown.stdout).status).toBe('SUCCESSFUL');
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

/** Control sequences of a terminal: plain output must have none. */
// eslint-disable-next-line no-control-regex -- the ANSI escape character
const ESCAPE = /\x1b/;
const oneLine = (text: string) => text.trim().split('\n');

describe('milvus-migrate watch, stop-sync, cancel and errors against the local API', () => {
  let server: ChildProcess;
  let api: string;

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(process.execPath, [bin, 'serve', '--port', String(port)], { env: { ...process.env, ...SHARED_DYNAMO }, stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForPort(port, 60_000);
    api = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('close', r));
  });

  const create = async (args: string[]): Promise<string> => {
    const created = await cli(['create', '--api', api, '--json', ...args]);
    expect(created.code, created.stderr).toBe(0);
    return JSON.parse(created.stdout).jobId;
  };

  it('watch follows an offline job to SUCCESSFUL: plain lines without escape codes, and --json one object per poll', async () => {
    const [products] = names as [string];
    const jobId = await create(['--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${products}:${products}_watched`]);
    const [plain, json] = await Promise.all([
      cli(['watch', jobId, '--api', api, '--interval', '0.2']),
      cli(['watch', jobId, '--api', api, '--interval', '0.2', '--json']),
    ]);

    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(ESCAPE);
    expect(plain.stderr).toBe('');
    const lines = plain.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^  default\\.${products} +\\[#{20}\\] +100\\.0% +120/120 rows  \\w+$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${jobId} SUCCESSFUL phase=DONE 100% 120/120 rows$`)));
    expect(lines.filter((l) => / event JobCreated: /.test(l))).toHaveLength(1);
    expect(lines.filter((l) => / event JobSucceeded: /.test(l))).toHaveLength(1);
    // Plain lines: each one different from the line before it of the same kind.
    const jobLines = lines.filter((l) => l.includes(` ${jobId} `)).map((l) => l.slice(9));
    expect(new Set(jobLines).size).toBe(jobLines.length);
    expect(lines.slice(-5).join('\n')).toMatch(new RegExp(`job ${jobId} \\(offline\\): SUCCESSFUL\\nverification: PASSED`));

    expect(json.code, json.stderr).toBe(0);
    const polls = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    for (const poll of polls) {
      expect(poll.job.jobId).toBe(jobId);
      expect(Object.keys(poll).sort()).toEqual(['at', 'collections', 'etaSeconds', 'events', 'job', 'lagHistory', 'rowsCopied', 'rowsPerSecond', 'rowsTotal', 'syncLagSeconds']);
    }
    const last = polls.at(-1);
    expect(last.job.status).toBe('SUCCESSFUL');
    expect([last.rowsCopied, last.rowsTotal]).toEqual([120, 120]);
    // The events of all polls together are the job's log, each once, in order.
    const followed = polls.flatMap((poll) => poll.events.map((e: { type: string; at: string }) => `${e.at} ${e.type}`));
    const log = JSON.parse((await cli(['events', jobId, '--api', api, '--json'])).stdout).items.map((e: { type: string; at: string }) => `${e.at} ${e.type}`);
    expect(followed).toEqual(log);
    expect(log[0]).toMatch(/ JobCreated$/);
    expect(log.at(-1)).toMatch(/ JobSucceeded$/);

    const listed = await cli(['list', '--api', api, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((j: { jobId: string }) => j.jobId)).toContain(jobId);
    const status = await cli(['status', jobId, '--api', api]);
    expect(status.stdout).toMatch(new RegExp(`^job ${jobId} \\(offline\\): SUCCESSFUL, phase DONE, 100%`));
    expect(status.stdout).toMatch(new RegExp(`default\\.${products} +\\[#{20}\\] +100\\.0% +120/120 rows`));

    // stop-sync needs an online job that is SYNCING: the API's 409 comes back on one line.
    const stop = await cli(['stop-sync', jobId, '--api', api, '--confirm-writes-stopped', '--json']);
    expect(stop.code).toBe(2);
    expect(stop.stdout).toBe('');
    expect(oneLine(stop.stderr)).toHaveLength(1);
    expect(stop.stderr).toMatch(new RegExp(`^milvus-migrate: POST /migrations/${jobId}/stop-sync answered 409: .*${jobId}`));
  });

  it('online: watch shows the sync lag, stop-sync --confirm-writes-stopped cuts over, watch ends 0 (needs the online API)', async () => {
    const [, articles] = names as [string, string];
    const jobId = await create(['--type', 'online', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${articles}:${articles}_online`]);
    const watching = cli(['watch', jobId, '--api', api, '--interval', '0.3']);
    await untilJob(api, jobId, (j) => j.status === 'SYNCING' && typeof j.syncLagSeconds === 'number');
    const job = JSON.parse((await cli(['status', jobId, '--api', api, '--json'])).stdout);
    expect(job).toMatchObject({ status: 'SYNCING', syncLagSeconds: expect.any(Number) });
    const stopped = await cli(['stop-sync', jobId, '--api', api, '--confirm-writes-stopped', '--json']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ jobId, status: 'CUTTING_OVER' });
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).not.toMatch(ESCAPE);
    const lines = watched.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${jobId} SYNCING phase=INCREMENTAL_SYNC `)));
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d sync lag \d+(\.\d)?s \(recent: [\d.s ]+\)$/));
    expect(lines.filter((l) => / event WritesStopConfirmed: /.test(l))).toHaveLength(1);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${jobId} SUCCESSFUL phase=DONE 100% 90/90 rows$`)));
    expect(watched.stdout).toMatch(/\ncutover: \d+(\.\d)?s from the confirmation that writes stopped to SUCCESSFUL\n/);
  }, 180_000);

  it('watch ends with exit code 1 and the reason when the job FAILED', async () => {
    const jobId = await create(['--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${prefix}absent_watched`]);
    const watched = await cli(['watch', jobId, '--api', api, '--interval', '0.2']);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toContain('error COLLECTION_NOT_FOUND: ');
    expect(oneLine(watched.stderr)).toHaveLength(1);
    expect(watched.stderr).toMatch(new RegExp(`^milvus-migrate: job ${jobId} ended FAILED: COLLECTION_NOT_FOUND: .*${prefix}absent_watched`));
  });

  it('cancel --json stops a running job; watch then ends with exit code 1 naming the cancellation', async () => {
    // A source that accepts connections and never answers keeps the job in PREFLIGHT.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const silentUri = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const jobId = await create(['--source-uri', silentUri, '--target-uri', targetUri, '--collection', `${prefix}never_copied`]);
      const cancelled = await cli(['cancel', jobId, '--api', api, '--json']);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(JSON.parse(cancelled.stdout)).toMatchObject({ jobId, status: 'CANCELLED' });
      const watched = await cli(['watch', jobId, '--api', api, '--json']);
      expect(watched.code).toBe(1);
      expect(JSON.parse(oneLine(watched.stdout).at(-1)!).job.status).toBe('CANCELLED');
      expect(oneLine(watched.stderr)).toHaveLength(1);
      expect(watched.stderr).toMatch(new RegExp(`^milvus-migrate: job ${jobId} ended CANCELLED: cancelled in phase \\w+`));
      const again = await cli(['cancel', jobId, '--api', api]);
      expect(again.code).toBe(2);
      expect(oneLine(again.stderr)).toHaveLength(1);
      expect(again.stderr).toMatch(/answered 409: .*CANCELLED/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('stop-sync without --confirm-writes-stopped refuses with one line and exit code 2, sending nothing', async () => {
    // Nothing listens there: had the request been sent, the error would say so.
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await cli(['stop-sync', 'mig-0123', '--api', nowhere]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(oneLine(stderr)).toEqual([
      'milvus-migrate: stop-sync needs --confirm-writes-stopped: with it you confirm that every writer to the source has stopped; the job then drains the last changes, cuts over and verifies',
    ]);
  });

  it('an unreachable --api gives one clear line and exit code 2 on every command', async () => {
    const port = await freePort();
    const nowhere = `http://127.0.0.1:${port}`;
    const outcomes = await Promise.all([
      cli(['status', 'mig-0123', '--api', nowhere, '--json']),
      cli(['list', '--api', nowhere]),
      cli(['watch', 'mig-0123', '--api', nowhere, '--interval', '0.2']),
      cli(['stop-sync', 'mig-0123', '--api', nowhere, '--confirm-writes-stopped']),
    ]);
    for (const { code, stdout, stderr } of outcomes) {
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(oneLine(stderr)).toEqual([expect.stringMatching(new RegExp(`^milvus-migrate: cannot reach ${nowhere}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`))]);
    }
  });
});
