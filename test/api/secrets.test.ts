import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createApiHandler } from '../../functions/api';
import { redactUri, redactUrisIn } from '../../lib/cluster';
import { createDocumentClient } from '../../lib/jobs/dynamoJobStore';
import { startApiServer, type ApiServer } from '../../functions/localHttpServer';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { recordFailure } from '../../lib/migration/recordFailure';
import { setCallRetryPolicy } from '../../lib/milvus';
import { makeTestCertificates, type TestCertificates } from '../support/tlsProxy';

/**
 * Credentials carrying a unique marker go through every route and the failure path of a real
 * execution (the local runtime runs the synthesized state machine with the real step handlers):
 * the marker appears in no API response, no item of the table and no line the process writes.
 */
const MARKER = `SecretMarker${randomBytes(8).toString('hex')}`;
/** A private CA given as target.tls.caCert: travels with the credentials, so kept nowhere either. */
let ca: TestCertificates;
/** Base64 of the CA's own bytes (the PEM without its armour and first and last lines): in nothing but the CA. */
let caMarker: string;
const tableName = `jobs-secrets-${process.pid}-${Date.now()}`;

const documents = createDocumentClient(
  new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
);
let runtime: LocalRuntime;
let server: ApiServer;
let closedPort: number;
const responses: string[] = [];
const output: string[] = [];
const restore: Array<() => void> = [];

/** Records everything written to stdout, stderr and the console, and still lets it through. */
function captureOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => (stream.write = original as typeof stream.write));
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const spy = vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      output.push(args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' '));
    });
    restore.push(() => spy.mockRestore());
  }
}

function safeJson(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name} ${value.message} ${value.stack} ${safeJson(value.cause)}` : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

async function freePortThenClose(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  responses.push(text);
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

async function waitForEnd(jobId: string) {
  for (let i = 0; i < 600; i++) {
    const job = await runtime.jobs.get(jobId);
    if (job && ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status)) {
      if (job.executionArn) await runtime.workflow.wait(job.executionArn).catch(() => undefined);
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`job ${jobId} did not end in 60 s`);
}

/** A cluster uri that refuses connections, with the marker as password in it. */
const unreachable = (role: string) => `http://${role}user:${MARKER}pw@127.0.0.1:${closedPort}`;

beforeAll(async () => {
  ca = makeTestCertificates('secrets test CA');
  caMarker = ca.caCert.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1, -1).join('');
  closedPort = await freePortThenClose();
  vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
  captureOutput();
  // The failing jobs dial a closed port: every call is tried as often as by default, with
  // millisecond backoffs instead of up to 2 s (each Preflight attempt of the state machine paid them).
  setCallRetryPolicy({ baseMs: 1, maxMs: 5 });
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName, retryIntervalOverrideMs: 5 });
  server = await startApiServer({ handler: createApiHandler(() => runtime.service), port: 0 });
});

afterAll(async () => {
  ca?.remove();
  await server?.close();
  await runtime?.stop();
  setCallRetryPolicy();
  for (const undo of restore.reverse()) undo();
  vi.unstubAllEnvs();
});

describe('secrets', () => {
  it('stay out of responses, the table and the logs through create, get, list, events, cancel and a failed execution', async () => {
    // 1. A job whose source refuses connections: it fails in Preflight, through RecordFailure.
    const key = `key-${randomBytes(4).toString('hex')}`;
    const failing = {
      type: 'offline',
      source: { uri: unreachable('source'), token: `${MARKER}-token` },
      target: { uri: `127.0.0.1:${closedPort}`, username: 'root', password: `${MARKER}-password`, tls: { caCert: ca.caCert } },
      databases: [{ name: 'default', collections: [{ name: 'books' }] }],
    };
    const created = await call('POST', '/migrations', failing, { 'Idempotency-Key': key });
    expect(created.status).toBe(201);
    const failed = await waitForEnd(created.body.jobId);
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.code).toMatch(/UNREACHABLE|INTERNAL|STEP_FAILED/);
    expect(failed.error?.step ?? failed.error?.reason).toBeTruthy();

    // The same request again, by its key: the job comes back, the credentials are not saved again.
    const replayed = await call('POST', '/migrations', failing, { 'Idempotency-Key': key });
    expect(replayed.status).toBe(200);
    const conflicting = await call('POST', '/migrations', { ...failing, options: { rowsPerShard: 7 } }, { 'Idempotency-Key': key });
    expect(conflicting.status).toBe(409);

    // 2. A job cancelled at once, with username and password.
    const cancelledJob = await call('POST', '/migrations', {
      type: 'offline',
      source: { uri: `127.0.0.1:${closedPort}`, username: `${MARKER}user`, password: `${MARKER}-pw2` },
      target: { uri: unreachable('target'), token: `${MARKER}-token2` },
      databases: [{ name: 'default', collections: [{ name: 'films' }] }],
    });
    expect(cancelledJob.status).toBe(201);
    const cancelled = await call('POST', `/migrations/${cancelledJob.body.jobId}/cancel`);
    expect([200, 409]).toContain(cancelled.status); // 409 only if Preflight failed it first
    await waitForEnd(cancelledJob.body.jobId);

    // 3. Refusals: a second writer of the same collection, and a body that fails validation.
    const second = await call('POST', '/migrations', { ...failing, databases: [{ name: 'default', collections: [{ name: 'films' }] }] });
    expect([201, 409]).toContain(second.status);
    const invalid = await call('POST', '/migrations', { ...failing, source: { uri: `not a uri ${MARKER}`, token: MARKER } });
    expect(invalid.status).toBe(400);

    // 4. Every read route.
    const list = await call('GET', '/migrations?limit=100');
    for (const job of list.body.items as Array<{ jobId: string }>) {
      expect((await call('GET', `/migrations/${job.jobId}`)).status).toBe(200);
      expect((await call('GET', `/migrations/${job.jobId}/events?limit=1000`)).status).toBe(200);
    }
    if (second.status === 201) await waitForEnd(second.body.jobId);

    // Assess: the runs did produce output, items and answers, and none of it holds the marker.
    const items = await documents.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    expect(items.Items!.length).toBeGreaterThan(6);
    expect(items.Items!.some((item) => String(item.pk).startsWith('IDEMPOTENCY#'))).toBe(true);
    expect(output.some((line) => line.includes('"step":"preflight"'))).toBe(true);
    expect(responses.length).toBeGreaterThan(8);
    expect(JSON.stringify(items.Items)).not.toContain(MARKER);
    for (const text of responses) expect(text).not.toContain(MARKER);
    for (const line of output) expect(line).not.toContain(MARKER);
    expect(caMarker.length).toBeGreaterThan(100);
    expect(JSON.stringify(items.Items)).not.toContain(caMarker);
    for (const text of [...responses, ...output]) expect(text).not.toContain(caMarker);
    // The failure names the cluster it could not reach, without its user and password.
    expect(JSON.stringify(failed.error)).not.toContain('sourceuser');
  });

  it('stay out of the logs, the table and the answers of an online job run to the end: copy, sync, stop-sync, cutover, verification', async () => {
    const client = new MilvusClient({ address: inject('milvusSourceUri'), telemetry: { enabled: false }, logLevel: 'error' } as never);
    const collection = `secrets_online_${randomBytes(4).toString('hex')}`;
    try {
      expect((await client.createCollection({ collection_name: collection, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: 4 }] } as never)).error_code).toBe('Success');
      await client.insert({ collection_name: collection, data: Array.from({ length: 50 }, (_, i) => ({ id: i, v: [i, 1, 2, 3] })) } as never);
      const before = output.length;
      const created = await call('POST', '/migrations', {
        type: 'online',
        source: { uri: inject('milvusSourceUri'), token: `root:${MARKER}-online-token` },
        target: { uri: inject('milvusTargetUri'), username: 'root', password: `${MARKER}-online-pw` },
        databases: [{ name: 'default', collections: [{ name: collection }] }],
        options: { lagPollSeconds: 1 },
      });
      expect(created.status).toBe(201);
      const jobId = created.body.jobId as string;
      // Two cycles recorded before the stop, so that SyncChanges sampled the lag of at least one.
      for (let i = 0; i < 600; i++) {
        const job = await runtime.jobs.get(jobId);
        if (job?.status === 'SYNCING' && (job.sync?.cycles ?? 0) >= 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await call('GET', `/migrations/${jobId}`)).body.status).toBe('SYNCING');
      // A write during sync, so that a pass writes too.
      await client.insert({ collection_name: collection, data: [{ id: 1000, v: [9, 9, 9, 9] }] } as never);
      expect((await call('POST', `/migrations/${jobId}/stop-sync`, { confirmWritesStopped: true })).status).toBe(200);
      const ended = await waitForEnd(jobId);
      expect(ended.status).toBe('SUCCESSFUL');
      expect((await call('GET', `/migrations/${jobId}/events?limit=1000`)).status).toBe(200);

      const lines = output.slice(before);
      for (const step of ['preflight', 'copyShard', 'startSync', 'syncChanges', 'drainChanges', 'verifySync', 'finalize']) {
        expect(lines.some((line) => line.includes(`"step":"${step}"`))).toBe(true);
      }
      for (const line of lines) expect(line).not.toContain(MARKER);
      // Every cycle SyncChanges recorded was sampled as a SyncLagSeconds metric, each once.
      const samples = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"SyncLagSeconds"') && l.includes(jobId) && l.includes('"cycle"'));
      const cycles = samples.map((l) => Number(JSON.parse(l).cycle));
      expect(cycles.length).toBeGreaterThanOrEqual(1);
      expect(new Set(cycles).size).toBe(cycles.length);
      for (const text of responses) expect(text).not.toContain(MARKER);
      const items = await documents.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
      expect(items.Items!.some((item) => JSON.stringify(item).includes(jobId))).toBe(true);
      expect(JSON.stringify(items.Items)).not.toContain(MARKER);
    } finally {
      await client.dropCollection({ collection_name: collection });
      await new MilvusClient({ address: inject('milvusTargetUri'), telemetry: { enabled: false }, logLevel: 'error' } as never).dropCollection({ collection_name: collection });
      await client.closeConnection();
    }
  });

  it('redacts user:password@ from cluster errors before they reach the job', async () => {
    const created = await call('POST', '/migrations', {
      type: 'offline',
      source: { uri: `127.0.0.1:${closedPort}`, token: 't' },
      target: { uri: `127.0.0.1:${closedPort}`, token: 't' },
      databases: [{ name: 'redact', collections: [{ name: 'x' }] }],
    });
    const jobId = created.body.jobId;
    await waitForEnd(jobId).catch(() => undefined);
    // RecordFailure needs a job still active: a copy of that one, IN_PROGRESS, receives the error.
    const job = await runtime.jobs.get(jobId);
    const fresh = await runtime.jobs.create({ ...job!, jobId: `${jobId}-r`, status: 'IN_PROGRESS', error: undefined, endedAt: undefined });
    const cause = `[SOURCE_UNREACHABLE] cannot reach the source cluster: 14 UNAVAILABLE: connect ECONNREFUSED (dialled http://admin:${MARKER}@10.1.2.3:19530 and admin:${MARKER}@10.1.2.4:19530)`;
    await recordFailure(runtime.services, { jobId: fresh.jobId, error: { Error: 'PermanentError', Cause: cause } });
    const recorded = await runtime.jobs.get(fresh.jobId);
    expect(recorded?.status).toBe('FAILED');
    expect(recorded?.error?.reason).toContain('http://10.1.2.3:19530');
    expect(recorded?.error?.reason).toContain('10.1.2.4:19530');
    expect(recorded?.error?.reason).not.toContain(MARKER);
    expect(recorded?.error?.reason).not.toContain('admin');
    const events = await runtime.jobs.listEvents(fresh.jobId);
    expect(JSON.stringify(events)).not.toContain(MARKER);

    expect(redactUri(`https://u:${MARKER}@h:1`)).toBe('https://h:1');
    expect(redactUrisIn(`x (https://u:${MARKER}@h:1) y u:${MARKER}@h:2`)).toBe('x (https://h:1) y h:2');
    expect(redactUrisIn('no credentials at host:1, mail a@b.c')).toBe('no credentials at host:1, mail a@b.c');
  });
});
