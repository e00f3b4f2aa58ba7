import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seedSampleCollections } from '../../local/sampleData';
import { client, expectSameRows, dropCollectionsWithPrefix } from '../support/rows';
import type { JobView } from '../../lib/api/views';
import { jobEvents, waitForJobEnd } from '../support/jobs';


const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `e2e_${randomBytes(3).toString('hex')}_`;
const sizes = { products: 500, articles: 300, clicks: 400 };

let runtime: LocalRuntime;
let names: string[];

/**
 * The job once it ended and its execution too: the status is final before the last step appends
 * its event (JobSucceeded, JobFailed), which the tests look for.
 */
const waitForEnd = (jobId: string) => waitForJobEnd(runtime, jobId, 300_000);
const events = (jobId: string) => jobEvents(runtime, jobId);

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-${prefix}` });
  names = await seedSampleCollections(sourceUri, { prefix, sizes });
});

afterAll(async () => {
  await runtime?.stop();
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('an offline migration through the synthesized state machine', () => {
  it('copies every chosen collection with its rows field by field, in several shards and batches, and verifies', async () => {
    // Small shards, batches and step budgets make the CopyShard loop and the shard Map do real work.
    // The budget counts from the start of an invocation: 300 ms went on its set-up calls on a busy
    // machine, and the shards crept on until the test timed out.
    process.env.COPY_SHARD_BUDGET_MS = '1000';
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: sourceUri, token: 'root:Milvus' },
      target: { uri: targetUri },
      databases: [{ name: 'default', collections: names.map((name) => ({ name })) }],
      options: { rowsPerShard: 150, batchBytes: 65536 },
    })) as unknown as JobView;
    expect(created.status).toMatch(/PENDING|IN_PROGRESS/);

    const job = await waitForEnd(created.jobId);
    delete process.env.COPY_SHARD_BUDGET_MS;
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.progressPercent).toBe(100);
    expect(job.verification?.passed).toBe(true);
    expect(job.verification?.targetCollections).toBe(names.length);
    expect((await runtime.service.collections(job.jobId)).items.map((c) => [c.key, c.rowsCopied])).toEqual(
      [
        [`default.${prefix}articles`, sizes.articles],
        [`default.${prefix}clicks`, sizes.clicks],
        [`default.${prefix}empty_archive`, 0],
        [`default.${prefix}products`, sizes.products],
      ],
    );
    // The autoID collection keeps its keys on a target (milvus-lite) that cannot take explicit autoID keys.
    expect(job.warnings.join('\n')).toContain(`${prefix}clicks`);

    for (const name of names) await expectSameRows(sourceUri, name, targetUri, name);

    const types = (await events(created.jobId)).map((e) => e.type);
    expect(types[0]).toBe('JobCreated');
    expect(types).toContain('ShardsPlanned');
    expect(types.filter((t) => t === 'ShardCopied').length).toBeGreaterThan(names.length);
    expect(types).toContain('VerificationPassed');
    expect(types.at(-1)).toBe('JobSucceeded');
  });

  it('leaves the source as it found it: a collection never indexed gets no index from the migration', async () => {
    const raw = `${prefix}raw`;
    const c = client(sourceUri);
    await c.createCollection({
      collection_name: raw,
      fields: [
        { name: 'id', data_type: 5, is_primary_key: true },
        { name: 'v', data_type: 101, dim: 8 },
      ],
    } as never);
    await c.insert({ collection_name: raw, data: Array.from({ length: 50 }, (_, i) => ({ id: i, v: Array.from({ length: 8 }, () => i / 50) })) } as never);
    const indexesBefore = await c.describeIndex({ collection_name: raw } as never);
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: sourceUri },
      target: { uri: targetUri },
      databases: [{ name: 'default', collections: [{ name: raw }] }],
    })) as unknown as JobView;
    const job = await waitForEnd(created.jobId);
    expect(job.status).toBe('SUCCESSFUL');
    const indexesAfter = await c.describeIndex({ collection_name: raw } as never);
    await c.closeConnection();
    expect((indexesBefore.index_descriptions ?? []).length).toBe(0);
    expect((indexesAfter.index_descriptions ?? []).length).toBe(0);
    await expectSameRows(sourceUri, raw, targetUri, raw);
  });

  it('fails with a reason naming a collection the source does not have, and writes nothing', async () => {
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: sourceUri },
      target: { uri: targetUri },
      databases: [{ name: 'default', collections: [{ name: `${prefix}missing`, targetName: `${prefix}never_created` }] }],
    })) as unknown as JobView;
    const job = await waitForEnd(created.jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('COLLECTION_NOT_FOUND');
    expect(job.error?.reason).toContain(`${prefix}missing`);
    // hasCollection answers true for anything on milvus-lite: list instead.
    const c = client(targetUri);
    const { data } = await c.listCollections();
    await c.closeConnection();
    expect(data.map((d) => d.name)).not.toContain(`${prefix}never_created`);
    expect((await events(created.jobId)).map((e) => e.type)).toContain('JobFailed');
  });

  it('refuses to write into a target collection that already exists', async () => {
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: sourceUri },
      target: { uri: targetUri },
      // products was migrated by the first test, so it exists on the target now.
      databases: [{ name: 'default', collections: [{ name: `${prefix}products` }] }],
    })) as unknown as JobView;
    const job = await waitForEnd(created.jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('TARGET_COLLECTION_EXISTS');
  });

  it('cancels a running job: CANCELLED, the execution stops, and nothing more is written', async () => {
    process.env.COPY_SHARD_BUDGET_MS = '100';
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: sourceUri },
      target: { uri: targetUri },
      databases: [{ name: 'default', collections: [{ name: `${prefix}products`, targetName: `${prefix}products_cancelled` }] }],
      options: { rowsPerShard: 100, batchBytes: 65536 },
    })) as unknown as JobView;
    // Wait until copying started, then cancel.
    for (let i = 0; i < 400; i++) {
      const view = (await runtime.service.get(created.jobId)) as unknown as JobView;
      if (view.collectionSummary.rowsCopied > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = (await runtime.service.cancel(created.jobId)) as unknown as JobView;
    delete process.env.COPY_SHARD_BUDGET_MS;
    expect(cancelled.status).toBe('CANCELLED');
    const job = await waitForEnd(created.jobId);
    expect(job.status).toBe('CANCELLED');
    // The copy stops: once the step in flight has returned, the row count on the target no longer moves.
    const c = client(targetUri);
    const count = async () => Number((await c.query({ collection_name: `${prefix}products_cancelled`, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' } as never)).data[0]?.['count(*)'] ?? 0);
    await new Promise((r) => setTimeout(r, 1000));
    const first = await count();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await count()).toBe(first);
    expect(first).toBeLessThan(sizes.products);
    await c.closeConnection();
    expect((await events(created.jobId)).map((e) => e.type)).toContain('JobCancelled');
  });
});
