import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ValidationError } from '../../lib/api/errors';
import { ConflictError } from '../../lib/errors';
import { startMilvusLite, type LocalMilvus } from '../../local/milvusLite';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seedSampleCollections } from '../../local/sampleData';
import { allRows, client, expectSameRows } from '../support/rows';
import { startFaultProxy } from '../support/faultProxy';
import { createWrittenCollection, startMixedWriter } from '../../local/mixedWriter';
import type { JobView } from '../../lib/api/views';
import { jobEvents, waitForJob, waitForJobEnd } from '../support/jobs';

// An online job moves every collection of every database: this file runs its own pair of
// milvus-lite servers, so collections other test files create on the shared ones stay out of it.

let source: LocalMilvus;
let target: LocalMilvus;
let runtime: LocalRuntime;
let run = 0;

const view = (jobId: string): Promise<JobView> => runtime.service.get(jobId);

const waitFor = (jobId: string, done: (job: JobView) => boolean, what: string, timeoutMs = 120_000) => waitForJob(runtime, jobId, done, what, timeoutMs);
const waitForEnd = (jobId: string) => waitForJobEnd(runtime, jobId);
const eventTypes = async (jobId: string) => (await jobEvents(runtime, jobId)).map((e) => e.type);

/** Drops every collection on both servers: each test starts from empty clusters. */
async function resetClusters(): Promise<void> {
  for (const uri of [source.uri, target.uri]) {
    const c = client(uri);
    for (const { name } of (await c.listCollections()).data) await c.dropCollection({ collection_name: name });
    await c.closeConnection();
  }
}

/** In every job's source token: it must never show up in a record, an event, a notification or a view. */
const SECRET_MARKER = 'S3CRET-online-marker';

/** Everything the service keeps or says about a job, as text. */
async function everythingAbout(jobId: string): Promise<string> {
  const record = await runtime.jobs.get(jobId);
  const events = await runtime.service.events(jobId, { limit: '1000' });
  const collections = await runtime.jobs.allCollections(jobId);
  const shards = await Promise.all(collections.map((c) => runtime.jobs.listShards(jobId, c.key)));
  return JSON.stringify([record, collections, events, shards, await runtime.service.get(jobId), await runtime.service.list({}), runtime.notifier.published.filter((n) => n.jobId === jobId)]);
}

async function createOnlineJob(options: Record<string, unknown> = {}): Promise<JobView> {
  return (await runtime.service.create({
    type: 'online',
    source: { uri: source.uri, token: `root:${SECRET_MARKER}-${run++}` },
    target: { uri: target.uri },
    options: { rowsPerShard: 400, lagAlertSeconds: 30, ...options },
  }));
}

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  // SyncChanges hands back to the state machine every 2 s, so the loop (and its Wait) runs many times.
  process.env.SYNC_CHANGES_BUDGET_MS = '2000';
  // DrainChanges and VerifySync compare a shard an invocation: their comparisons go on over many (lib/sync/comparisonPass.ts).
  process.env.COMPARISON_BUDGET_MS = '1';
  [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-online-${Date.now()}`, waitTimeOverrideMs: 100 });
}, 120_000);

afterAll(async () => {
  delete process.env.SYNC_CHANGES_BUDGET_MS;
  delete process.env.COMPARISON_BUDGET_MS;
  await runtime?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('an online migration through the synthesized state machine', () => {
  it('converges under a concurrent mix of inserts, upserts and deletes, alerts, and after stop-sync ends equal row for row', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'events', 2_000);
    const sample = await seedSampleCollections(source.uri, { prefix: 'shop_', sizes: { products: 200, articles: 150, clicks: 100 } });
    const writer = startMixedWriter(source.uri, 'events', { existingRows: 2_000, writesPerSecond: 300 });

    const created = await createOnlineJob();
    expect(created.type).toBe('online');
    // Not syncing yet: stop-sync is refused with the reason.
    await expect(runtime.service.stopSync(created.jobId, { confirmWritesStopped: true })).rejects.toThrow(ConflictError);

    const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 2, 'SYNCING with two cycles');
    expect(syncing.phase).toBe('INCREMENTAL_SYNC');
    expect(syncing.syncLagSeconds).toEqual(expect.any(Number));
    const alerted = await waitFor(created.jobId, (j) => j.sync?.lagAlertSentAt !== undefined, 'the lag alert');
    expect(alerted.syncLagSeconds!).toBeLessThan(30);
    expect(await eventTypes(created.jobId)).toContain('SyncLagBelowThreshold');
    expect(runtime.notifier.published.filter((n) => n.jobId === created.jobId).map((n) => n.kind)).toEqual(['lagBelowThreshold']);
    // The sync keeps up while the writer goes on: several more cycles write its changes.
    const before = alerted.sync!.cycles;
    const later = await waitFor(created.jobId, (j) => (j.sync?.cycles ?? 0) >= before + 3, 'three more cycles');
    expect(later.sync!.inserted + later.sync!.updated + later.sync!.deleted).toBeGreaterThan(0);

    const stats = await writer.stop();
    expect(stats.failed).toBe(0);
    expect(stats.inserted + stats.upserted + stats.deleted).toBeGreaterThan(300);

    // Without the confirmation: refused, nothing changes.
    await expect(runtime.service.stopSync(created.jobId, {})).rejects.toThrow(ValidationError);
    await expect(runtime.service.stopSync(created.jobId, { confirmWritesStopped: false })).rejects.toThrow(/confirmWritesStopped must be true/);
    expect((await view(created.jobId)).status).toBe('SYNCING');

    const stopping = (await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true }));
    expect(stopping.status).toBe('CUTTING_OVER');
    const done = await waitForEnd(created.jobId);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.syncLagSeconds).toBe(0);
    expect(done.cutoverSeconds).toEqual(expect.any(Number));
    expect(done.verification?.passed).toBe(true);
    const types = await eventTypes(created.jobId);
    expect(types).toEqual(expect.arrayContaining(['SyncStarted', 'WritesStopConfirmed', 'SyncDrained', 'VerificationPassed', 'JobSucceeded']));
    // The drain compared every row, shard after shard, one invocation each (COMPARISON_BUDGET_MS).
    const shards = (await Promise.all((await runtime.jobs.allCollections(created.jobId)).map((c) => runtime.jobs.listShards(created.jobId, c.key)))).flat();
    expect(shards.length).toBeGreaterThan(4);
    const drained = (await jobEvents(runtime, created.jobId)).find((e) => e.type === 'SyncDrained');
    expect(drained?.details).toMatchObject({ rowsCompared: 2_000 + stats.inserted - stats.deleted + 450, invocations: shards.length });
    // A comparison resumed across invocations reads the digests it saved as it went: no false "written by others".
    expect(types).not.toContain('TargetWrittenExternally');
    expect(runtime.notifier.published.filter((n) => n.jobId === created.jobId).map((n) => n.kind)).toEqual(['lagBelowThreshold', 'succeeded']);

    // The source token is nowhere: not in the job, its shards, events, notifications or views.
    const kept = await everythingAbout(created.jobId);
    expect(kept).toContain(created.jobId);
    expect(kept).toContain('SyncLagBelowThreshold');
    expect(kept).not.toContain(SECRET_MARKER);

    // Row for row, every collection, the writer's included.
    expect(await expectSameRows(source.uri, 'events', target.uri, 'events')).toBe(2_000 + stats.inserted - stats.deleted);
    for (const name of sample) await expectSameRows(source.uri, name, target.uri, name);
  }, 300_000);

  it('fails the job naming the change when a collection is dropped on the source during sync', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 300);
    await createWrittenCollection(source.uri, 'returns', 100);
    const created = await createOnlineJob();
    await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');

    const c = client(source.uri);
    await c.dropCollection({ collection_name: 'returns' });
    await c.closeConnection();

    const failed = await waitForEnd(created.jobId);
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.code).toBe('SOURCE_CHANGED');
    expect(failed.error?.reason).toContain('returns');
    expect(await everythingAbout(created.jobId)).not.toContain(SECRET_MARKER);
    expect(runtime.notifier.published.filter((n) => n.jobId === created.jobId).map((n) => n.kind)).toEqual(expect.arrayContaining(['failed']));
  }, 180_000);

  it('stops syncing and fails when its deadline passes without confirmation', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 200);
    const created = await createOnlineJob({ syncTimeoutSeconds: 3600 });
    const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
    // The deadline is the sync's start plus options.syncTimeoutSeconds...
    expect(Date.parse(syncing.sync!.deadlineAt) - Date.parse(syncing.sync!.startedAt)).toBe(3600 * 1000);
    // ...shortened here by moving it into the past, as a clock 7 days on would see it.
    const record = (await runtime.jobs.get(created.jobId))!;
    await runtime.jobs.update(created.jobId, { sync: { ...record.sync!, deadlineAt: new Date(Date.now() - 1000).toISOString() } });

    const failed = await waitForEnd(created.jobId);
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.code).toBe('SYNC_DEADLINE_PASSED');
    expect(failed.error?.reason).toMatch(/without confirmation that writes to the source stopped/);
  }, 180_000);

  it('reports writes made to the target during sync and makes it equal to the source again', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 300);
    const created = await createOnlineJob();
    const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 2, 'two cycles');

    const c = client(target.uri);
    await c.insert({ collection_name: 'orders', data: [{ id: 999_999, vec: Array(8).fill(0.5), tag: 'written on the target', meta: {} }] as never });
    await c.closeConnection();

    const warned = await waitFor(created.jobId, (j) => j.warnings.some((w) => w.includes('written by something other than this job')), 'the external write warning');
    expect(warned.warnings.join('\n')).toContain('default.orders');
    expect(await eventTypes(created.jobId)).toContain('TargetWrittenExternally');
    await waitFor(created.jobId, (j) => (j.sync?.cycles ?? 0) > syncing.sync!.cycles + 2, 'more cycles');
    await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
    expect((await waitForEnd(created.jobId)).status).toBe('SUCCESSFUL');
    expect((await allRows(target.uri, 'orders')).some((row) => String(row.id) === '999999')).toBe(false);
    await expectSameRows(source.uri, 'orders', target.uri, 'orders');
  }, 180_000);

  it('refuses to cut over while the source still changes after the confirmation (WRITES_NOT_STOPPED)', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 500);
    const created = await createOnlineJob();
    await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
    const writer = startMixedWriter(source.uri, 'orders', { existingRows: 500, writesPerSecond: 200 });
    try {
      await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
      const failed = await waitForEnd(created.jobId);
      expect(failed.status).toBe('FAILED');
      expect(failed.error?.code).toBe('WRITES_NOT_STOPPED');
      expect(failed.error?.reason).toMatch(/the source still changes after writes were confirmed stopped/);
    } finally {
      await writer.stop();
    }
  }, 180_000);

  it('cancels during the cutover and leaves the source untouched', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 500);
    const created = await createOnlineJob();
    await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
    // A writer that goes on keeps the drain busy, so the cancel lands in the middle of it.
    const writer = startMixedWriter(source.uri, 'orders', { existingRows: 500, writesPerSecond: 200 });
    try {
      expect(((await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true }))).status).toBe('CUTTING_OVER');
      const cancelled = (await runtime.service.cancel(created.jobId));
      expect(cancelled.status).toBe('CANCELLED');
      expect(['CUTOVER', 'VERIFICATION']).toContain(cancelled.phase);
    } finally {
      await writer.stop();
    }
    await runtime.workflow.wait((await runtime.jobs.get(created.jobId))!.executionArn!);
    expect((await view(created.jobId)).status).toBe('CANCELLED');
    const sourceAfter = await allRows(source.uri, 'orders');
    // Untouched by the job: the source holds exactly what the writer left there.
    expect(sourceAfter.length).toBe(500 + writer.stats.inserted - writer.stats.deleted);
  }, 180_000);

  it('ends SUCCESSFUL and equal row for row through fault-injecting proxies (over 5% of calls) with one sync step killed mid-write', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'events', 1_500);
    const faults = { rate: 0.08, latency: { rate: 0.1, minMs: 1, maxMs: 20 } };
    const [sourceProxy, targetProxy] = await Promise.all([startFaultProxy({ upstream: source.uri, seed: 7, ...faults }), startFaultProxy({ upstream: target.uri, seed: 8, ...faults })]);
    // The third Upsert reaches the target, then the connection is cut: a SyncChanges dies after
    // writing part of its cycle, and the next one must still make the target equal to the source.
    targetProxy.killAfterForward('Upsert', 3);
    const writer = startMixedWriter(source.uri, 'events', { existingRows: 1_500, writesPerSecond: 200 });
    try {
      const created = (await runtime.service.create({ type: 'online', source: { uri: sourceProxy.uri }, target: { uri: targetProxy.uri }, options: { rowsPerShard: 500, lagAlertSeconds: 60 } }));
      await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 4 && targetProxy.injected.killed === 1, 'four cycles and the kill', 240_000);
      const stats = await writer.stop();
      expect(stats.failed).toBe(0);
      await runtime.service.stopSync(created.jobId, { confirmWritesStopped: true });
      const done = await waitForEnd(created.jobId);
      expect(done.error, JSON.stringify(done.error)).toBeUndefined();
      expect(done.status).toBe('SUCCESSFUL');

      const calls = sourceProxy.injected.calls + targetProxy.injected.calls;
      const injected = sourceProxy.transientFaults() + targetProxy.transientFaults();
      console.info(`online fault proxy counts: source ${JSON.stringify(sourceProxy.injected)} target ${JSON.stringify(targetProxy.injected)}`);
      expect(injected / calls).toBeGreaterThanOrEqual(0.05);
      expect(targetProxy.injected.killed).toBe(1);
      // Compared on the servers themselves; no key twice.
      const rows = await expectSameRows(source.uri, 'events', target.uri, 'events');
      expect(rows).toBe(1_500 + stats.inserted - stats.deleted);
      const keys = (await allRows(target.uri, 'events')).map((r) => String(r.id));
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      await writer.stop();
      await Promise.all([sourceProxy.stop(), targetProxy.stop()]);
    }
  }, 300_000);

  it.each([
    ['the full copy', (j: JobView) => j.status === 'IN_PROGRESS' && j.phase === 'FULL_COPY'],
    ['sync', (j: JobView) => j.status === 'SYNCING'],
  ])('cancels during %s and leaves the source untouched', async (_phase, reached) => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 3_000, 64);
    const sourceBefore = await allRows(source.uri, 'orders');
    const created = await createOnlineJob({ rowsPerShard: 200, batchBytes: 64 * 1024, shardConcurrency: 1 });
    await waitFor(created.jobId, reached, 'the phase to cancel in');

    const cancelled = (await runtime.service.cancel(created.jobId));
    expect(cancelled.status).toBe('CANCELLED');
    await runtime.workflow.wait((await runtime.jobs.get(created.jobId))!.executionArn!);
    const after = await view(created.jobId);
    expect(after.status).toBe('CANCELLED');
    expect(await allRows(source.uri, 'orders')).toEqual(sourceBefore);
  }, 180_000);
});

describe('the scope an online job names', () => {
  it('ignores collections created later beside the collections it names, and still fails on a change to one of them', async () => {
    await resetClusters();
    await createWrittenCollection(source.uri, 'orders', 200);
    await createWrittenCollection(source.uri, 'returns', 100);
    const created = (await runtime.service.create({
      type: 'online',
      source: { uri: source.uri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name: 'orders' }] }],
    }));
    const syncing = await waitFor(created.jobId, (j) => j.status === 'SYNCING' && (j.sync?.cycles ?? 0) >= 1, 'SYNCING');
    // Another application creates a collection in the same database: not this job's concern.
    await createWrittenCollection(source.uri, 'unrelated', 10);
    await waitFor(created.jobId, (j) => (j.sync?.cycles ?? 0) >= syncing.sync!.cycles + 3, 'three more cycles');
    expect((await view(created.jobId)).status).toBe('SYNCING');
    // A collection the job did not name is dropped: not its concern either; one it names is.
    const c = client(source.uri);
    await c.dropCollection({ collection_name: 'returns' });
    await waitFor(created.jobId, (j) => (j.sync?.cycles ?? 0) >= syncing.sync!.cycles + 5, 'two more cycles');
    expect((await view(created.jobId)).status).toBe('SYNCING');
    await c.dropCollection({ collection_name: 'orders' });
    await c.closeConnection();
    const failed = await waitForEnd(created.jobId);
    expect(failed.error?.code).toBe('SOURCE_CHANGED');
    expect(failed.error?.reason).toMatch(/default\.orders was (renamed or )?dropped/);
  }, 180_000);
});
