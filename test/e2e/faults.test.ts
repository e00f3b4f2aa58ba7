import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seedSampleCollections } from '../../local/sampleData';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { allRows, client, dropCollectionsWithPrefix, expectSameRows } from '../support/rows';
import type { JobView } from '../../lib/api/views';
import { waitForJobEnd } from '../support/jobs';

/**
 * Whole offline migrations through fault-injecting proxies in front of both clusters: transient
 * faults (UNAVAILABLE, DEADLINE_EXCEEDED, RateLimit, RESOURCE_EXHAUSTED, dropped connections,
 * latency) on a share of all calls and one CopyShard killed after its write reached the target
 * but before its checkpoint, ending with the target identical to the source; and permanent
 * faults (refused credentials, a missing collection) failing the job at once with their code.
 */


const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `faults_${randomBytes(3).toString('hex')}_`;
const sizes = { products: 400, articles: 250, clicks: 300 };
const SEED = Number(process.env.FAULT_SEED ?? 20261122);

let runtime: LocalRuntime;
let names: string[];
const proxies: FaultProxy[] = [];

async function proxy(upstream: string, options: Partial<Parameters<typeof startFaultProxy>[0]> = {}): Promise<FaultProxy> {
  const p = await startFaultProxy({ upstream, seed: SEED + proxies.length, ...options });
  proxies.push(p);
  return p;
}

const waitForEnd = (jobId: string, seconds: number) => waitForJobEnd(runtime, jobId, seconds * 1000);

function migrate(source: FaultProxy, target: FaultProxy, collections: string[], options: Record<string, unknown> = {}) {
  return runtime.service.create({
    type: 'offline',
    source: { uri: source.uri },
    target: { uri: target.uri },
    databases: [{ name: 'default', collections: collections.map((name) => ({ name })) }],
    options,
  }) as unknown as Promise<JobView>;
}

async function expectNoDuplicateKeys(uri: string, collection: string): Promise<void> {
  const c = client(uri);
  const described = await c.describeCollection({ collection_name: collection });
  await c.closeConnection();
  const pk = described.schema.fields.find((f) => f.is_primary_key)!.name;
  const keys = (await allRows(uri, collection)).map((r) => String(r[pk]));
  expect(new Set(keys).size).toBe(keys.length);
}

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-${prefix}`, retryIntervalOverrideMs: 20 });
  // This file is about faults: its keys avoid single quotes, which milvus-lite cannot delete, so a
  // resume that must clear a partly written range can finish (quote keys are copied and resumed
  // without faults in fidelity.test.ts).
  names = await seedSampleCollections(sourceUri, { prefix, sizes, avoidQuoteKeys: true });
});

afterAll(async () => {
  await runtime?.stop();
  await Promise.all(proxies.map((p) => p.stop()));
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('an offline migration through fault-injecting proxies', () => {
  it('ends SUCCESSFUL with the target identical to the source, row for row, at a fault rate over 5% plus one killed copy step', async () => {
    const faults = { rate: 0.1, latency: { rate: 0.1, minMs: 1, maxMs: 30 } };
    const source = await proxy(sourceUri, faults);
    const target = await proxy(targetUri, faults);
    // The second Insert reaches the target, then the connection is cut: that CopyShard dies after
    // its write and before its checkpoint, and its retry must remove what it wrote.
    target.killAfterForward('Insert', 2);

    // Each CopyShard invocation copies for up to 5 s, then the state machine loops it, and the
    // killed one is retried: each resumes from its checkpoint through the faults. The budget counts
    // from the start of the invocation: with 300 ms, the set-up calls of an invocation on a loaded
    // machine (through the proxies' faults and latency) used it all before the first batch, and
    // the shards crept on with some 1,800 invocations and minutes of CPU for 950 rows.
    process.env.COPY_SHARD_BUDGET_MS = '5000';
    try {
      const created = await migrate(source, target, names, { rowsPerShard: 120, batchBytes: 65536 });
      const job = await waitForEnd(created.jobId, 240);
      expect(job.error, JSON.stringify(job.error)).toBeUndefined();
      expect(job.status).toBe('SUCCESSFUL');
      expect(job.verification?.passed).toBe(true);
      expect((await runtime.service.collections(job.jobId)).items.map((c) => [c.key, c.rowsCopied])).toEqual([
        [`default.${prefix}articles`, sizes.articles],
        [`default.${prefix}clicks`, sizes.clicks],
        [`default.${prefix}empty_archive`, 0],
        [`default.${prefix}products`, sizes.products],
      ]);
    } finally {
      delete process.env.COPY_SHARD_BUDGET_MS;
    }

    // What was injected: at least 5% of all calls failed, on both sides, and the kill happened.
    const calls = source.injected.calls + target.injected.calls;
    const injected = source.transientFaults() + target.transientFaults();
    console.info(`fault proxy counts: source ${JSON.stringify(source.injected)} target ${JSON.stringify(target.injected)}; target faults by method ${JSON.stringify(target.faultsByMethod)}`);
    expect(injected / calls).toBeGreaterThanOrEqual(0.05);
    expect(source.transientFaults()).toBeGreaterThan(0);
    expect(target.transientFaults()).toBeGreaterThan(0);
    expect(target.injected.killed).toBe(1);
    for (const kind of ['unavailable', 'deadline', 'rate-limit', 'resource-exhausted', 'drop'] as const) {
      expect(source.injected[kind] + target.injected[kind]).toBeGreaterThan(0);
    }

    // Compared on the servers themselves, not through the proxies.
    for (const name of names) {
      await expectSameRows(sourceUri, name, targetUri, name);
      await expectNoDuplicateKeys(targetUri, name);
    }
  }, 300_000);
});

describe('permanent faults fail the job at once, with their code', () => {
  it('refused credentials on the source (gRPC UNAUTHENTICATED): FAILED in Preflight with MILVUS_UNAUTHENTICATED, the call not retried', async () => {
    const source = await proxy(sourceUri);
    const target = await proxy(targetUri);
    source.setPermanent('unauthenticated');
    const created = await migrate(source, target, [names[0]!]);
    const job = await waitForEnd(created.jobId, 30);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('MILVUS_UNAUTHENTICATED');
    expect(job.error?.reason).toMatch(/source/);
    expect(job.error?.reason).toMatch(/auth/i);
    // One refused call: neither the call nor the step was retried.
    expect(source.injected.unauthenticated).toBe(1);
  });

  it('refused credentials on the target (a Milvus "not authenticated" status): FAILED with MILVUS_UNAUTHENTICATED, nothing written', async () => {
    const source = await proxy(sourceUri);
    const target = await proxy(targetUri);
    target.setPermanent('auth-status');
    const created = await migrate(source, target, [names[0]!]);
    const job = await waitForEnd(created.jobId, 30);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('MILVUS_UNAUTHENTICATED');
    expect(job.error?.reason).toMatch(/target/);
    expect(target.injected.unauthenticated).toBe(1);
    expect(target.callsByMethod.Insert ?? 0).toBe(0);
    expect(target.callsByMethod.CreateCollection ?? 0).toBe(0);
  });

  it('a schema the target refuses (an invalid-parameter status on CreateCollection): FAILED at once with the server reason, not retried, nothing inserted', async () => {
    const source = await proxy(sourceUri);
    const target = await proxy(targetUri);
    target.refuse('CreateCollection', 'field type BFloat16Vector is not supported by this server');
    // The first test copied it: the target must not hold it, or Preflight refuses first (TARGET_COLLECTION_EXISTS).
    const c = client(targetUri);
    await c.dropCollection({ collection_name: names[0]! });
    await c.closeConnection();
    const created = await migrate(source, target, [names[0]!]);
    const job = await waitForEnd(created.jobId, 30);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('MILVUS_REFUSED');
    expect(job.error?.reason).toMatch(/BFloat16Vector is not supported/);
    // One refusal: neither the call nor the step was retried, and no row was sent.
    expect(target.injected.refused).toBe(1);
    expect(target.callsByMethod.Insert ?? 0).toBe(0);
  });

  it('a collection that the source lists but cannot find: FAILED with COLLECTION_NOT_FOUND naming it, not retried', async () => {
    const source = await proxy(sourceUri);
    const target = await proxy(targetUri);
    const missing = names[0]!;
    source.setMissingCollections([missing]);
    const created = await migrate(source, target, [missing]);
    const job = await waitForEnd(created.jobId, 30);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('COLLECTION_NOT_FOUND');
    expect(job.error?.reason).toContain(missing);
    expect(source.injected['collection-not-found']).toBe(1);
    expect(target.callsByMethod.CreateCollection ?? 0).toBe(0);
  });
});
