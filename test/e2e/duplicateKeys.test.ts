import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMilvusLite, type LocalMilvus } from '../../local/milvusLite';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import type { JobView } from '../../lib/api/views';
import { jobEvents, waitForJob, waitForJobEnd } from '../support/jobs';
import { client } from '../support/rows';
import { countAll, createCollectionWithDuplicateKeys, distinctRows, insertAgain, spreadKeys } from '../support/duplicateKeys';

// A source whose application inserted 10 of its 1,000 keys twice (count(*) 1,010, a query 1,000
// rows): both kinds of job end SUCCESSFUL with one row per key on the target, the version a query
// of the source returns, and warn naming the duplicates. The online job moves every collection of
// every database: this file runs its own pair of milvus-lite servers.

let source: LocalMilvus;
let target: LocalMilvus;
let runtime: LocalRuntime;

const ROWS = 1_000;
/** 10 keys spread over the key space: every shard of 300 rows holds some. */
const DUPLICATED = spreadKeys(10, 97);


const waitFor = (jobId: string, done: (job: JobView) => boolean, what: string, timeoutMs = 120_000) => waitForJob(runtime, jobId, done, what, timeoutMs);
const waitForEnd = (jobId: string) => waitForJobEnd(runtime, jobId);
const events = (jobId: string) => jobEvents(runtime, jobId);

async function resetClusters(): Promise<void> {
  for (const uri of [source.uri, target.uri]) {
    const c = client(uri);
    for (const { name } of (await c.listCollections()).data) await c.dropCollection({ collection_name: name });
    await c.closeConnection();
  }
}

/** The warning names the collection, the number of duplicated keys and examples that are duplicated keys. */
function expectDuplicatesWarning(job: JobView, collection: string, count: number, duplicated: readonly number[]): void {
  const warning = job.warnings.find((w) => w.startsWith(`${collection}:`) && w.includes('duplicate primary key'));
  expect(warning, job.warnings.join('\n')).toBeDefined();
  expect(warning).toContain(`the source holds ${count} duplicate primary key(s)`);
  const examples = /e\.g\. ([^)]*)\)/.exec(warning!)?.[1]?.split(', ').filter((k) => k !== '...') ?? [];
  expect(examples.length).toBeGreaterThan(0);
  for (const key of examples) expect(duplicated).toContain(Number(key));
}

/** One row per key on the target, equal field by field to what a query of the source returns. */
async function expectOneRowPerKey(collection: string, duplicated: readonly number[], version: number): Promise<void> {
  const [sourceRows, targetRows] = await Promise.all([distinctRows(source.uri, collection), distinctRows(target.uri, collection)]);
  expect(sourceRows.length).toBe(ROWS);
  expect(targetRows).toEqual(sourceRows);
  expect(await countAll(target.uri, collection)).toBe(ROWS);
  // The duplicated keys hold the version a query of the source returns: the later insert.
  for (const row of targetRows.filter((r) => duplicated.includes(Number(r.id)))) expect(Number(row.version)).toBe(version);
}

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  process.env.SYNC_CHANGES_BUDGET_MS = '2000';
  [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-dups-${Date.now()}`, waitTimeOverrideMs: 100 });
}, 120_000);

afterAll(async () => {
  delete process.env.SYNC_CHANGES_BUDGET_MS;
  await runtime?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('a source with duplicate primary keys', () => {
  it('offline: copies one row per key, warns naming the 10 duplicated keys, verifies distinct keys and ends SUCCESSFUL', async () => {
    await resetClusters();
    await createCollectionWithDuplicateKeys(source.uri, 'orders', ROWS, DUPLICATED);

    const created = await runtime.service.create({
      type: 'offline',
      source: { uri: source.uri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name: 'orders' }] }],
      options: { rowsPerShard: 300, shardConcurrency: 2 },
    });
    const job = await waitForEnd(created.jobId);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.verification?.passed).toBe(true);
    expect(job.verification?.collections).toEqual([{ key: 'default.orders', sourceRows: ROWS + 10, targetRows: ROWS, duplicateKeys: 10, match: true }]);
    // Copied once: no re-copy was needed.
    expect((await events(created.jobId)).map((e) => e.type)).not.toContain('RecopyScheduled');

    expectDuplicatesWarning(job, 'default.orders', 10, DUPLICATED);
    const [found] = (await events(created.jobId)).filter((e) => e.type === 'DuplicateKeysFound');
    expect(found?.details).toMatchObject({ collection: 'default.orders', duplicateKeys: 10 });
    const [collection] = (await runtime.service.collections(created.jobId)).items;
    expect(collection).toMatchObject({ key: 'default.orders', rowsTotal: ROWS + 10, rowsCopied: ROWS, duplicateKeys: 10, percent: 100, status: 'VERIFIED' });
    expect(collection!.duplicateExamples!.length).toBeGreaterThan(0);
    expect(collection!.duplicateExamples!.length).toBeLessThanOrEqual(5);
    for (const key of collection!.duplicateExamples!) expect(DUPLICATED).toContain(Number(key));

    await expectOneRowPerKey('orders', DUPLICATED, 2);
  });

  it('online: duplicates from before the job and from writes during the sync; the target keeps one row per key and the job ends SUCCESSFUL', async () => {
    await resetClusters();
    await createCollectionWithDuplicateKeys(source.uri, 'orders', ROWS, DUPLICATED);

    const created = await runtime.service.create({
      type: 'online',
      source: { uri: source.uri },
      target: { uri: target.uri },
      options: { rowsPerShard: 300, lagAlertSeconds: 30 },
    });
    const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
    // The application inserts 5 more existing keys again, with a third version, while the sync runs.
    const later = spreadKeys(5, 101, 50);
    await insertAgain(source.uri, 'orders', later, 3);
    expect(await countAll(source.uri, 'orders')).toBe(ROWS + 15);
    // The sync writes the new versions; the duplicates do not make it find differences again and again.
    const settled = await waitFor(created.jobId, (j) => (j.sync?.updated ?? 0) >= 5 && (j.sync?.cycles ?? 0) >= syncing.sync!.cycles + 3, 'the new versions synced');
    expect(settled.sync!.updated).toBe(5);
    expect(settled.sync!.inserted).toBe(0);
    expect(settled.sync!.deleted).toBe(0);
    expect(settled.sync!.lastCycle).toMatchObject({ inserted: 0, updated: 0, deleted: 0, rowsCompared: ROWS });

    await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
    const job = await waitForEnd(created.jobId);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.verification?.collections).toEqual([{ key: 'default.orders', sourceRows: ROWS + 15, targetRows: ROWS, duplicateKeys: 15, match: true }]);
    expectDuplicatesWarning(job, 'default.orders', 15, [...DUPLICATED, ...later]);
    const [collection] = (await runtime.service.collections(created.jobId)).items;
    expect(collection).toMatchObject({ duplicateKeys: 15 });

    const [sourceRows, targetRows] = await Promise.all([distinctRows(source.uri, 'orders'), distinctRows(target.uri, 'orders')]);
    expect(targetRows).toEqual(sourceRows);
    expect(await countAll(target.uri, 'orders')).toBe(ROWS);
    for (const row of targetRows.filter((r) => later.includes(Number(r.id)))) expect(Number(row.version)).toBe(3);
  });
});
