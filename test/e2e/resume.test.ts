import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JobView } from '../../lib/api/views';
import { JOB_SCHEMA_VERSION, JobOptions, type ShardRecord } from '../../lib/jobs/model';
import { copyShard } from '../../lib/migration/copyShard';
import { createTargetCollection } from '../../lib/migration/createTargetCollection';
import { loadCopyBatch } from '../../lib/migration/loadCopyBatch';
import { planShards } from '../../lib/migration/planShards';
import { preflight } from '../../lib/migration/preflight';
import { recordFailure } from '../../lib/migration/recordFailure';
import { startMilvusLite, type LocalMilvus } from '../../local/milvusLite';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { client, dropCollectionsWithPrefix, expectSameRows } from '../support/rows';

/**
 * Resume after the target died mid-copy, on real milvus-lite servers: the target is killed
 * (SIGKILL) while some shards are copied and others are half way, the job fails once the
 * state machine's retries are spent, the target is restarted on the same data file, and
 * `resume` finishes the job: SUCCESSFUL, rows identical, and every row written once (the rows
 * the copy counted equal the source's, the shards copied before kept their checkpoints).
 */

const sourceUri = inject('milvusSourceUri');
const prefix = `resume_${randomBytes(3).toString('hex')}_`;
const ROWS = 16_000;
const ROWS_PER_SHARD = 2_700;

let runtime: LocalRuntime;
/**
 * The source as the jobs killed mid-copy read it: 25 ms added to every call, so a shard's copy takes
 * seconds and the target is killed while one is half way. Unslowed, on a quiet machine, a shard
 * seen at its first checkpoint (saved once a second) had written all its rows before the kill.
 */
let slowSource: FaultProxy;
let target: LocalMilvus;
let targetDir: string;

/** A collection of ROWS rows (Int64 keys, a small vector, a text field), indexed and loaded on the source. */
async function seed(name: string, rows = ROWS): Promise<void> {
  const c = client(sourceUri);
  try {
    await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'title', data_type: DataType.VarChar, max_length: 64 },
        { name: 'v', data_type: DataType.FloatVector, dim: 8 },
      ],
    } as never);
    for (let start = 0; start < rows; start += 4_000) {
      const data = Array.from({ length: Math.min(4_000, rows - start) }, (_, i) => {
        const id = start + i;
        return { id: id * 7 + 3, title: `row ${id}`, v: Array.from({ length: 8 }, (_, d) => ((id * 31 + d * 17) % 101) / 101) };
      });
      await c.insert({ collection_name: name, data } as never);
    }
    await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'AUTOINDEX', metric_type: 'L2' } as never);
    await c.loadCollection({ collection_name: name });
  } finally {
    await c.closeConnection();
  }
}

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

const view = async (jobId: string) => (await runtime.service.get(jobId)) as JobView;
const ended = (jobId: string, seconds: number) =>
  waitFor(`job ${jobId} ends`, seconds, async () => {
    const job = await view(jobId);
    return ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status) ? job : undefined;
  });

/**
 * Starts the job and kills the target once at least one shard is done and another is half way
 * (checkpointed, not done); returns the shards as the failed job left them.
 */
async function killTargetMidCopy(jobId: string, key: string): Promise<ShardRecord[]> {
  // Less than half way, so the shard cannot finish between this look and the kill.
  const atKill = await waitFor('a shard copied and another half way', 120, async () => {
    const shards = await runtime.jobs.listShards(jobId, key);
    const halfWay = shards.some((s) => !s.done && s.checkpoint !== null && s.rowsCopied < ROWS_PER_SHARD / 2);
    return shards.some((s) => s.done) && halfWay ? shards : undefined;
  });
  process.kill(target.pid, 'SIGKILL');
  const shardStates = (shards: ShardRecord[]) => shards.map((s) => `${s.index}:${s.done ? 'done' : (s.checkpoint ?? 'none')}/${s.rowsCopied}`).join(' ');
  console.info(`shards when the target was killed: ${shardStates(atKill)}`);
  const failed = await ended(jobId, 180);
  expect(failed.status).toBe('FAILED');
  // Only the execution of the resume will run from now on.
  await waitFor('the failed execution settled', 30, async () => (runtime.workflow.running().length === 0 ? true : undefined));
  const atFailure = await runtime.jobs.listShards(jobId, key);
  console.info(`shards when the job had failed: ${shardStates(atFailure)}`);
  return atFailure;
}

/** Restarts the target on its data file and waits until it answers, as a user resumes once the cluster is back. */
async function restartTarget(): Promise<void> {
  target = await startMilvusLite({ port: target.port, dataDir: targetDir });
  await waitFor('the restarted target answers', 60, async () => {
    const c = client(target.uri);
    try {
      await c.listCollections();
      return true;
    } catch {
      return undefined;
    } finally {
      await c.closeConnection();
    }
  });
}

async function targetCount(name: string): Promise<number> {
  const c = client(target.uri);
  try {
    const result = await c.query({ collection_name: name, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' } as never);
    return Number(result.data[0]?.['count(*)']);
  } finally {
    await c.closeConnection();
  }
}

/** What the job's copy counted: per shard (checkpointed rows) and per collection, and the ShardCopied events. */
async function rowsCounted(jobId: string, key: string) {
  const shards = await runtime.jobs.listShards(jobId, key);
  const events = (await runtime.service.events(jobId, { limit: '1000' })).items;
  return {
    shards: shards.reduce((sum, s) => sum + s.rowsCopied, 0),
    collection: (await runtime.jobs.getCollection(jobId, key))?.rowsCopied,
    shardCopiedEvents: events.filter((e) => e.type === 'ShardCopied').reduce((sum, e) => sum + Number(e.details?.rows ?? 0), 0),
    events,
  };
}

/** Checks what a resumed, finished job did; returns the resumed shards' ids. */
async function expectResumedOnce(jobId: string, key: string, name: string, atFailure: ShardRecord[]) {
  const done = await ended(jobId, 300);
  expect(done.error, JSON.stringify(done.error)).toBeUndefined();
  expect(done.status).toBe('SUCCESSFUL');
  expect(done.executions?.map((e) => [e.run, e.status ?? null])).toEqual([
    [1, 'FAILED'],
    [2, null],
  ]);

  // Rows identical, and the target holds each once (count(*) counts a key written twice twice).
  expect(await expectSameRows(sourceUri, name, target.uri, name)).toBe(ROWS);
  expect(await targetCount(name)).toBe(ROWS);

  // Every row was counted once by the copy: the first run's checkpoints plus what the resume added.
  const counted = await rowsCounted(jobId, key);
  expect({ shards: counted.shards, collection: counted.collection, shardCopiedEvents: counted.shardCopiedEvents }).toEqual({ shards: ROWS, collection: ROWS, shardCopiedEvents: ROWS });

  // Shards copied before the failure were not copied again: their copy records did not move (an
  // online sync keeps its digest of the shard's range on the same item: that is not the copy's).
  const after = (await runtime.jobs.listShards(jobId, key)).map(({ targetDigest: _sync, ...copy }) => copy);
  const copiedBefore = atFailure.filter((s) => s.done);
  expect(copiedBefore.length).toBeGreaterThan(0);
  for (const shard of copiedBefore) expect(after.find((s) => s.index === shard.index)).toEqual(shard);
  // A half-copied shard went on from its checkpoint: it kept the rows counted before.
  const halfWay = atFailure.filter((s) => !s.done && s.checkpoint !== null);
  expect(halfWay.length).toBeGreaterThan(0);
  for (const shard of halfWay) expect(after.find((s) => s.index === shard.index)?.rowsCopied).toBeGreaterThanOrEqual(shard.rowsCopied);

  // The event says how many rows were kept: everything checkpointed at the failure.
  const resumed = counted.events.find((e) => e.type === 'JobResumed');
  const kept = atFailure.reduce((sum, s) => sum + s.rowsCopied, 0);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(ROWS);
  expect(resumed?.details).toMatchObject({ run: 2, rowsKept: kept });
  expect(done.executions?.[1]?.rowsKept).toBe(kept);
  return done;
}

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  targetDir = mkdtempSync(path.join(tmpdir(), 'resume-target-'));
  target = await startMilvusLite({ dataDir: targetDir });
  slowSource = await startFaultProxy({ upstream: sourceUri, seed: 14, latency: { rate: 1, minMs: 25, maxMs: 25 } });
  // Retries of a failed step 20 ms apart: the job fails soon after the target dies.
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-${prefix}`, retryIntervalOverrideMs: 20, waitTimeOverrideMs: 200 });
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await slowSource?.stop();
  await dropCollectionsWithPrefix(prefix, sourceUri);
  await target?.stop();
  rmSync(targetDir, { recursive: true, force: true });
});

/** Small batches, so the copy takes long enough to be caught half way. */
const COPY_OPTIONS = { rowsPerShard: ROWS_PER_SHARD, shardConcurrency: 2, batchRows: 64 };

describe('resume after the target died mid-copy', () => {
  it('offline: FAILED when the target dies, resumed once it is back, SUCCESSFUL with every row written once', async () => {
    const name = `${prefix}offline`;
    const key = `default.${name}`;
    await seed(name);
    const created = (await runtime.service.create({
      type: 'offline',
      source: { uri: slowSource.uri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name }] }],
      options: COPY_OPTIONS,
    })) as JobView;
    const atFailure = await killTargetMidCopy(created.jobId, key);
    console.info(`failed as the target died: ${JSON.stringify((await view(created.jobId)).error)}`);

    await restartTarget();
    const resumed = (await runtime.service.resume(created.jobId, {})) as JobView;
    expect(resumed.status).toBe('PENDING');
    await expectResumedOnce(created.jobId, key, name, atFailure);
  }, 600_000);

  it('online: FAILED when the target dies, resumed, syncs the writes made meanwhile, cut over with every row written once by the copy', async () => {
    const name = `${prefix}online`;
    const key = `default.${name}`;
    await seed(name);
    const created = (await runtime.service.create({
      type: 'online',
      source: { uri: slowSource.uri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name }] }],
      options: { ...COPY_OPTIONS, lagPollSeconds: 1 },
    })) as JobView;
    const atFailure = await killTargetMidCopy(created.jobId, key);

    await restartTarget();
    await runtime.service.resume(created.jobId, {});
    await waitFor('the resumed job syncs', 300, async () => {
      const job = await view(created.jobId);
      if (job.status === 'FAILED') throw new Error(`the resumed job failed: ${JSON.stringify(job.error)}`);
      return job.status === 'SYNCING' && job.sync?.lastCycle ? job : undefined;
    });
    expect((await rowsCounted(created.jobId, key)).events.some((e) => e.type === 'SyncResumed')).toBe(false);

    // An upsert on the source while it syncs: the sync carries it, the copy's count is untouched.
    const c = client(sourceUri);
    await c.upsert({ collection_name: name, data: [{ id: 3, title: 'changed while syncing', v: [0, 0, 0, 0, 0, 0, 0, 1] }] } as never);
    await c.closeConnection();
    await waitFor('the change synced', 120, async () => ((await view(created.jobId)).sync?.updated ?? 0) >= 1 || undefined);
    await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
    await expectResumedOnce(created.jobId, key, name, atFailure);
  }, 600_000);

  it('offline: a collection copied but not indexed when the job failed gets its indexes from the resume, its shards untouched', async () => {
    const name = `${prefix}copied`;
    const key = `default.${name}`;
    const rows = 600;
    await seed(name, rows);
    // The steps one by one (as the state machine runs them) up to the start of BuildIndexes, then the failure.
    const services = runtime.services;
    const jobId = `mig-${prefix.replaceAll('_', '-')}copied`;
    const now = new Date().toISOString();
    const ref = (role: 'source' | 'target', uri: string) => services.credentials.save(jobId, role, { uri });
    await services.jobs.create({
      schemaVersion: JOB_SCHEMA_VERSION,
      jobId,
      type: 'offline',
      status: 'PENDING',
      phase: 'QUEUED',
      source: { uri: sourceUri, credentialsRef: await ref('source', sourceUri), credentials: 'none' },
      target: { uri: target.uri, credentialsRef: await ref('target', target.uri), credentials: 'none' },
      databases: [{ name: 'default', collections: [{ name }] }],
      options: JobOptions.parse({ rowsPerShard: 200 }),
      warnings: [],
      createdAt: now,
      updatedAt: now,
      version: 0,
    });
    await preflight(services, { jobId });
    const plan = await planShards(services, { jobId });
    await createTargetCollection(services, { jobId, collectionKey: key });
    const [batch] = await Promise.all(plan.batches.map((n) => loadCopyBatch(services, { jobId, batch: n })));
    for (const { shardIndex } of batch!.shards) {
      while (!(await copyShard(services, { jobId, collectionKey: key, shardIndex }, { deadline: Date.now() + 60_000 })).done);
    }
    await services.jobs.updateCollection(jobId, key, { status: 'COPIED' }); // what BuildIndexes does first
    await recordFailure(services, { jobId, error: { Error: 'MigrationError', Cause: '[MILVUS_UNAVAILABLE] the target went away while indexing' } });
    const shardsAtFailure = await services.jobs.listShards(jobId, key);
    expect(shardsAtFailure.length).toBeGreaterThan(1);

    await runtime.service.resume(jobId, {});
    const done = await ended(jobId, 180);
    expect(done.error, JSON.stringify(done.error)).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    const events = (await runtime.service.events(jobId, { limit: '1000' })).items;
    const afterResume = events.slice(events.findIndex((e) => e.type === 'JobResumed'));
    expect(afterResume[0]?.details).toMatchObject({ rowsKept: rows, collectionsKept: 1 });
    expect(afterResume.filter((e) => e.type === 'IndexesBuilt').map((e) => e.details?.collection)).toEqual([key]);
    expect(afterResume.filter((e) => e.type === 'ShardCopied')).toEqual([]);
    expect(await services.jobs.listShards(jobId, key)).toEqual(shardsAtFailure);
    expect(await expectSameRows(sourceUri, name, target.uri, name)).toBe(rows);
  }, 300_000);

  it('online: FAILED when the target dies while syncing, resumed, syncs again with a new deadline and cuts over', async () => {
    const name = `${prefix}syncing`;
    const rows = 2_000;
    await seed(name, rows);
    const created = (await runtime.service.create({
      type: 'online',
      source: { uri: sourceUri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name }] }],
      options: { lagPollSeconds: 1 },
    })) as JobView;
    const syncing = await waitFor('the job syncs', 180, async () => {
      const job = await view(created.jobId);
      return job.status === 'SYNCING' && job.sync?.lastCycle ? job : undefined;
    });
    process.kill(target.pid, 'SIGKILL');
    const failed = await ended(created.jobId, 180);
    expect(failed.status).toBe('FAILED');
    await waitFor('the failed execution settled', 30, async () => (runtime.workflow.running().length === 0 ? true : undefined));

    // A change on the source while the job is down: the resumed sync must carry it.
    const c = client(sourceUri);
    await c.upsert({ collection_name: name, data: [{ id: 10, title: 'changed while the job was down', v: [1, 0, 0, 0, 0, 0, 0, 0] }] } as never);
    await c.closeConnection();
    await restartTarget();
    await runtime.service.resume(created.jobId, {});
    const resumed = await waitFor('the resumed job syncs again', 180, async () => {
      const job = await view(created.jobId);
      if (job.status === 'FAILED') throw new Error(`the resumed job failed: ${JSON.stringify(job.error)}`);
      return job.status === 'SYNCING' && (job.sync?.cycles ?? 0) > (failed.sync?.cycles ?? 0) ? job : undefined;
    });
    expect(Date.parse(resumed.sync!.deadlineAt)).toBeGreaterThan(Date.parse(syncing.sync!.deadlineAt));
    const events = (await runtime.service.events(created.jobId, { limit: '1000' })).items.map((e) => e.type);
    expect(events.filter((t) => t === 'SyncStarted')).toHaveLength(1);
    expect(events.filter((t) => t === 'SyncResumed')).toHaveLength(1);
    expect(events.filter((t) => t === 'ShardCopied')).toHaveLength(1);

    await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
    const done = await ended(created.jobId, 180);
    expect(done.error, JSON.stringify(done.error)).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(await expectSameRows(sourceUri, name, target.uri, name)).toBe(rows);
    expect((await runtime.jobs.allCollections(created.jobId))[0]?.rowsCopied).toBe(rows);
  }, 600_000);
});
