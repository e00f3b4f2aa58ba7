import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { openCluster, setCallRetryPolicy } from '../../lib/milvus';
import type { PreflightReport } from '../../lib/migration/inspect';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seedSampleCollections } from '../../local/sampleData';
import { client, dropCollectionsWithPrefix, expectSameRows } from '../support/rows';
import { makeTestCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from '../support/tlsProxy';

/**
 * Migrations to and from clusters as Zilliz Cloud serves them: TLS with a certificate of a private
 * CA, and a token on every call. Each milvus-lite sits behind a TLS-terminating proxy of its own
 * (its own CA, its own token); the service is given only the proxies' https:// uris. The proxies
 * count calls per method, and which came on the raw channel (columnar copy, row reads of the sync)
 * rather than through the SDK, so each path is shown to have gone through TLS.
 */

type JobView = {
  jobId: string;
  status: string;
  error?: { code: string; reason: string };
  verification?: { passed: boolean };
  sync?: { cycles: number };
  collections: Array<{ key: string; rowsCopied: number }>;
};

const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `tls_${randomBytes(3).toString('hex')}_`;
const sizes = { products: 300, articles: 200, clicks: 150 };
const sourceToken = `root:source-${randomBytes(6).toString('hex')}`;
const targetToken = `target-api-key-${randomBytes(6).toString('hex')}`;

let runtime: LocalRuntime;
let names: string[];
let sourceCa: TestCertificates;
let targetCa: TestCertificates;
let source: TlsProxy;
let target: TlsProxy;

const hostPort = (uri: string) => uri.replace(/^https?:\/\//, '');
const sourceConnection = (extra: object = {}) => ({ uri: source.uri, token: sourceToken, tls: { caCert: sourceCa.caCert }, ...extra });
const targetConnection = (extra: object = {}) => ({ uri: target.uri, token: targetToken, tls: { caCert: targetCa.caCert }, ...extra });
/** The middle of a PEM: base64 of the certificate's own bytes, which nothing else would hold. */
const pemBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1, -1).join('');

async function waitFor(jobId: string, done: (job: JobView) => boolean, what: string, seconds = 120): Promise<JobView> {
  for (let i = 0; i < seconds * 10; i++) {
    const view = (await runtime.service.get(jobId)) as unknown as JobView;
    if (done(view)) return view;
    if (['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(view.status)) throw new Error(`job ${jobId} ended ${view.status} waiting for ${what}: ${JSON.stringify(view.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${jobId}: no ${what} within ${seconds} s`);
}
const ended = (jobId: string, seconds = 120) =>
  waitFor(jobId, () => false, 'the end', seconds).catch(async () => (await runtime.service.get(jobId)) as unknown as JobView);

/** Everything the service keeps or shows of a job: record, events, view. */
async function everythingKept(jobId: string): Promise<string> {
  return JSON.stringify([await runtime.jobs.get(jobId), await runtime.jobs.listEvents(jobId), await runtime.service.get(jobId), await runtime.service.events(jobId, { limit: '1000' })]);
}

function expectNoCredentials(text: string): void {
  expect(text).not.toContain(pemBody(sourceCa.caCert));
  expect(text).not.toContain(pemBody(targetCa.caCert));
  expect(text).not.toContain('BEGIN CERTIFICATE');
  for (const token of [sourceToken, targetToken]) {
    expect(text).not.toContain(token);
    expect(text).not.toContain(Buffer.from(token).toString('base64'));
  }
}

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  sourceCa = makeTestCertificates('source test CA');
  targetCa = makeTestCertificates('target test CA');
  [source, target] = await Promise.all([
    startTlsProxy({ upstream: hostPort(sourceUri), certificates: sourceCa, token: sourceToken }),
    startTlsProxy({ upstream: hostPort(targetUri), certificates: targetCa, token: targetToken }),
  ]);
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-${prefix}`, retryIntervalOverrideMs: 20 });
  names = await seedSampleCollections(sourceUri, { prefix, sizes });
});

afterAll(async () => {
  setCallRetryPolicy();
  await runtime?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
  sourceCa?.remove();
  targetCa?.remove();
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('clusters behind TLS with a private CA and a token', () => {
  it('an offline migration given each CA ends SUCCESSFUL, rows identical; the columnar copy went through both proxies; no CA or token is kept', async () => {
    source.reset();
    target.reset();
    const created = (await runtime.service.create({
      type: 'offline',
      source: sourceConnection(),
      target: targetConnection(),
      databases: [{ name: 'default', collections: names.map((name) => ({ name })) }],
      options: { rowsPerShard: 120, batchBytes: 65536 },
    })) as unknown as JobView;
    const job = await ended(created.jobId, 180);
    expect(job.error, JSON.stringify(job.error)).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.verification?.passed).toBe(true);
    // Compared on the servers themselves, not through the proxies.
    for (const name of names) await expectSameRows(sourceUri, name, targetUri, name);

    // Every call was let through with its token; the copy's reads and writes came on the raw channel.
    expect(source.counts.unauthenticated + target.counts.unauthenticated).toBe(0);
    expect(source.counts.handshakes).toBeGreaterThan(0);
    expect(target.counts.handshakes).toBeGreaterThan(0);
    expect(source.callsByMethod.DescribeCollection).toBeGreaterThan(0);
    expect(target.callsByMethod.CreateCollection).toBeGreaterThan(0);
    expect(source.rawCallsByMethod.Query).toBeGreaterThan(0);
    expect(target.rawCallsByMethod.Insert).toBeGreaterThan(0);
    expect(target.rawCallsByMethod.Insert).toBe(target.callsByMethod.Insert);

    expectNoCredentials(await everythingKept(created.jobId));
  }, 240_000);

  it('an online migration given each CA: the sync reads rows of both clusters on the raw channel through TLS, and ends SUCCESSFUL', async () => {
    const collection = `${prefix}online`;
    const direct = client(sourceUri);
    try {
      await direct.createCollection({ collection_name: collection, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: 4 }] } as never);
      await direct.insert({ collection_name: collection, data: Array.from({ length: 40 }, (_, i) => ({ id: i, v: [i, 1, 2, 3] })) } as never);
      const created = (await runtime.service.create({
        type: 'online',
        source: sourceConnection(),
        target: targetConnection(),
        databases: [{ name: 'default', collections: [{ name: collection }] }],
        options: { lagPollSeconds: 1 },
      })) as unknown as JobView;
      const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
      source.reset();
      target.reset();
      await direct.insert({ collection_name: collection, data: [{ id: 1000, v: [9, 9, 9, 9] }] } as never);
      await waitFor(created.jobId, (j) => (j.sync?.cycles ?? 0) >= syncing.sync!.cycles + 2, 'two more cycles');
      // The sync's row reads (the gateway's raw channel) on both sides came through the proxies.
      expect(source.rawCallsByMethod.Query).toBeGreaterThan(0);
      expect(target.rawCallsByMethod.Query).toBeGreaterThan(0);
      await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
      const job = await ended(created.jobId, 120);
      expect(job.error, JSON.stringify(job.error)).toBeUndefined();
      expect(job.status).toBe('SUCCESSFUL');
      expect(await expectSameRows(sourceUri, collection, targetUri, collection)).toBe(41);
      expect(source.counts.unauthenticated + target.counts.unauthenticated).toBe(0);
      expectNoCredentials(await everythingKept(created.jobId));
    } finally {
      await direct.closeConnection();
    }
  }, 240_000);
});

describe('tls.serverName', () => {
  it('is checked instead of the uri host by the SDK client and by the raw channel alike', async () => {
    const read = async (serverName: string) => {
      const cluster = openCluster({ uri: source.uri, token: sourceToken, tls: { caCert: sourceCa.caCert, serverName } }, { timeoutMs: 5_000 });
      try {
        // The SDK client (listCollections) and the raw channel (queryRows) of one gateway.
        const listed = await cluster.listCollections('default').catch((e: unknown) => e);
        const rows = await cluster.queryRows('default', { collection: names[0]!, pkField: 'id', filter: '', outputFields: ['count(*)'], limit: 1, timeoutMs: 5_000 }).catch((e: unknown) => e);
        return { listed, rows };
      } finally {
        await cluster.close();
      }
    };
    source.reset();
    // The certificate names 127.0.0.1 and localhost.
    const good = await read('localhost');
    expect(good.listed).toContain(names[0]);
    expect(Number((good.rows as Array<Record<string, unknown>>)[0]?.['count(*)'])).toBe(sizes.products);
    expect(source.rawCallsByMethod.Query).toBe(1);
    const bad = await read('milvus.example.com');
    expect(bad.listed).toMatchObject({ code: 'MILVUS_TLS_NAME_MISMATCH' });
    expect(bad.rows).toMatchObject({ code: 'MILVUS_TLS_NAME_MISMATCH' });
  });
});

describe('without the CA, or with a wrong token, preflight fails at once with a clear reason', () => {
  const retried: string[] = [];
  beforeAll(() => setCallRetryPolicy({ onRetry: (what: string) => void retried.push(what) }));
  afterAll(() => setCallRetryPolicy());

  it('no CA for the target: the job FAILS in Preflight with MILVUS_TLS_UNTRUSTED naming target.tls.caCert and --target-ca-cert, no call retried, no call reached the server', async () => {
    retried.length = 0;
    target.reset();
    const started = Date.now();
    const created = (await runtime.service.create({
      type: 'offline',
      source: sourceConnection(),
      target: { uri: target.uri, token: targetToken },
      databases: [{ name: 'default', collections: [{ name: names[0]! }] }],
    })) as unknown as JobView;
    const job = await ended(created.jobId, 60);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('MILVUS_TLS_UNTRUSTED');
    expect(job.error?.reason).toContain("the target's certificate is not trusted: give its CA with target.tls.caCert / --target-ca-cert");
    expect(job.error?.reason).toMatch(/unable to verify the first certificate|self[- ]signed|issuer/);
    // Not retried: by the call (no backoff), nor by the state machine (the step ran once: one failure event).
    expect(retried.filter((w) => w.startsWith('list databases'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(15_000);
    // The client broke off the handshake; nothing it sent reached the server through the proxy.
    await new Promise((r) => setTimeout(r, 300));
    expect(target.counts.refusedHandshakes).toBeGreaterThan(0);
    expect(target.callsByMethod.ListDatabases ?? 0).toBe(0);
    expect(target.counts.forwarded).toBe(0);
    expectNoCredentials(await everythingKept(created.jobId));
  });

  it('POST /migrations/preflight without the source CA: not reachable, the reason names the certificate and source.tls.caCert, ok false, quickly', async () => {
    retried.length = 0;
    const started = Date.now();
    const report = (await runtime.service.preflight({ type: 'offline', source: { uri: source.uri, token: sourceToken }, target: targetConnection() })) as PreflightReport;
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(report.ok).toBe(false);
    expect(report.source.reachable).toBe(false);
    expect(report.source.reason).toMatch(/^MILVUS_TLS_UNTRUSTED: cannot reach the source cluster: the source's certificate is not trusted: give its CA with source.tls.caCert \/ --source-ca-cert/);
    expect(report.target.reachable).toBe(true);
    expect(retried).toEqual([]);
    // With it, the same request passes.
    const passing = (await runtime.service.preflight({ type: 'offline', source: sourceConnection(), target: targetConnection(), databases: [{ name: 'default', collections: [{ name: names[0]!, targetName: `${names[0]!}_preflight` }] }] })) as PreflightReport;
    expect(passing.problems).toEqual([]);
    expect(passing.ok).toBe(true);
  });

  it('a wrong source token: FAILED in Preflight with MILVUS_UNAUTHENTICATED, not retried', async () => {
    retried.length = 0;
    source.reset();
    const created = (await runtime.service.create({
      type: 'offline',
      source: sourceConnection({ token: 'root:wrong' }),
      target: targetConnection(),
      databases: [{ name: 'default', collections: [{ name: names[0]! }] }],
    })) as unknown as JobView;
    const job = await ended(created.jobId, 60);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('MILVUS_UNAUTHENTICATED');
    expect(job.error?.reason).toMatch(/source/);
    expect(retried).toEqual([]);
    // The SDK's Connect and at most the one call: refused once each, never again.
    expect(source.counts.unauthenticated).toBeGreaterThan(0);
    expect(source.counts.unauthenticated).toBeLessThanOrEqual(2);
    expect(source.callsByMethod.ListDatabases ?? 0).toBeLessThanOrEqual(1);
    expect(source.counts.forwarded).toBe(0);
  });
});
