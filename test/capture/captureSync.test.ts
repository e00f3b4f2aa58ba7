import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiHandler } from '../../functions/api';
import { startApiServer, type ApiServer } from '../../functions/localHttpServer';
import type { JobView } from '../../lib/api/views';
import { startMilvusLite, type LocalMilvus } from '../../local/milvusLite';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { jobEvents, waitForJob, waitForJobEnd } from '../support/jobs';
import { client, expectSameRows } from '../support/rows';
import { appClient, createKeyed, startCapture, tagsById, vector, type CaptureProcess } from './captureSupport';

// Online jobs move every collection of every database: this file runs its own pair of milvus-lite servers.
let source: LocalMilvus;
let target: LocalMilvus;
let runtime: LocalRuntime;
let api: ApiServer;
let tableName: string;
const running: CaptureProcess[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitFor = (jobId: string, done: (job: JobView) => boolean, what: string, timeoutMs = 90_000) => waitForJob(runtime, jobId, done, what, timeoutMs);
const waitForEnd = (jobId: string) => waitForJobEnd(runtime, jobId);

async function resetClusters(): Promise<void> {
  for (const uri of [source.uri, target.uri]) {
    const c = client(uri);
    for (const { name } of (await c.listCollections()).data) await c.dropCollection({ collection_name: name });
    await c.closeConnection();
  }
}

async function createCaptureJob(options: Record<string, unknown> = {}): Promise<JobView> {
  return runtime.service.create({
    type: 'online',
    source: { uri: source.uri },
    target: { uri: target.uri },
    options: { rowsPerShard: 400, lagAlertSeconds: 30, syncStrategy: 'capture', captureWriteTimeoutSeconds: 3, ...options },
  });
}

async function capture(jobId: string, env: NodeJS.ProcessEnv = {}): Promise<CaptureProcess> {
  const p = await startCapture(jobId, api.url, { MILVUS_MIGRATE_TABLE: tableName, MILVUS_MIGRATE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint'), ...env });
  running.push(p);
  return p;
}

const events = (jobId: string) => jobEvents(runtime, jobId);

beforeAll(async () => {
  process.env.MILVUS_MIGRATE_STEP_LOG = process.env.E2E_STEP_LOG ?? 'off';
  process.env.SYNC_CHANGES_BUDGET_MS = '2000';
  tableName = `jobs-capture-${Date.now()}`;
  [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  runtime = await startLocalRuntime({ dynamoEndpoint: inject('dynamoEndpoint'), tableName, waitTimeOverrideMs: 100 });
  api = await startApiServer({ handler: createApiHandler(() => runtime.service), port: 0 });
}, 180_000);

afterAll(async () => {
  delete process.env.SYNC_CHANGES_BUDGET_MS;
  await Promise.all(running.map((p) => p.stop()));
  await api?.close();
  await runtime?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('sync strategy capture, through the capture endpoint', () => {
  it('every write kind through the endpoint reaches the target; a write after stop-sync is refused and never reaches the source', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 300);
    await createKeyed(source.uri, 'auto', 50, { autoId: true });
    const job = await createCaptureJob();
    const endpoint = await capture(job.jobId);
    const app = appClient(endpoint.address);

    // Writes during the full copy are logged too (the first comparison and the log close them).
    await app.insert({ collection_name: 'docs', data: [{ id: 1001, tag: 'during-copy', n: -1, vec: vector(1001) }] } as never);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.syncLagSeconds !== null, 'the first sync cycle');

    // Every kind of write, through the endpoint.
    await app.insert({ collection_name: 'docs', data: [2001, 2002, 2003].map((id) => ({ id, tag: 'new', n: id, vec: vector(id) })) } as never);
    await app.upsert({ collection_name: 'docs', data: [{ id: 5, tag: 'upserted', n: 5000, vec: vector(5000) }, { id: 3001, tag: 'upserted-new', n: 1, vec: vector(3001) }] } as never);
    await app.delete({ collection_name: 'docs', ids: [10, 11, 12] } as never);
    await app.delete({ collection_name: 'docs', filter: 'n >= 100 and n < 120' } as never);
    const inserted = await app.insert({ collection_name: 'auto', data: [{ tag: 'auto-new', n: 7, vec: vector(7) }, { tag: 'auto-new', n: 8, vec: vector(8) }] } as never);
    expect(inserted.IDs).toBeDefined();
    // A failed write (unknown collection) is answered as the source answers it.
    const direct = client(source.uri);
    const viaSource = await direct.insert({ collection_name: 'no_such_collection', data: [{ id: 1, vec: vector(1) }] } as never).then(JSON.stringify, (e: Error) => e.message);
    await direct.closeConnection();
    const viaEndpoint = await app.insert({ collection_name: 'no_such_collection', data: [{ id: 1, vec: vector(1) }] } as never).then(JSON.stringify, (e: Error) => e.message);
    expect(viaEndpoint).toBe(viaSource);

    // The target follows within a few cycles (no full pass needed): the lag comes from the log.
    await waitFor(job.jobId, (j) => (j.sync?.inserted ?? 0) + (j.sync?.deleted ?? 0) >= 30 + 3 + 2 + 2, 'the logged changes applied');
    expect(await tagsById(target.uri, 'docs', [5, 3001, 2001, 10])).toEqual({ '5': 'upserted', '3001': 'upserted-new', '2001': 'new' });

    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    // The endpoint reads the job every 500 ms: after that, writes are refused naming the job.
    await sleep(1_500);
    const refused = await app.insert({ collection_name: 'docs', data: [{ id: 9999, tag: 'after-fence', n: 0, vec: vector(9999) }] } as never).then(
      (reply: unknown) => JSON.stringify(reply),
      (e: Error) => e.message,
    );
    expect(refused).toContain(job.jobId);
    expect(refused).toMatch(/refused/);

    const ended = await waitForEnd(job.jobId);
    expect(ended.status, JSON.stringify(ended.error)).toBe('SUCCESSFUL');
    await app.closeConnection();
    const s = client(source.uri);
    const after = await s.query({ collection_name: 'docs', filter: 'id == 9999', output_fields: ['id'], consistency_level: 'Strong' } as never);
    await s.closeConnection();
    expect(after.data).toEqual([]);
    expect(await expectSameRows(source.uri, 'docs', target.uri, 'docs')).toBe(300 + 1 + 3 + 1 - 3 - 20);
    expect(await expectSameRows(source.uri, 'auto', target.uri, 'auto')).toBe(52);
    expect((await events(job.jobId)).map((e) => e.type)).not.toContain('WritesBypassedCapture');
    await endpoint.stop();
  }, 300_000);

  it('loses nothing when endpoints die between the log and the forward or between the forward and the reply; a write that bypassed the endpoint is found and reported', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 100);
    await createKeyed(source.uri, 'auto', 20, { autoId: true });
    const job = await createCaptureJob();
    const survivor = await capture(job.jobId);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.syncLagSeconds !== null, 'the first sync cycle');

    /** A write through an endpoint that kills itself at `stage`; the caller sees the connection drop. */
    const writeThroughDying = async (stage: 'logged' | 'forwarded', write: (app: ReturnType<typeof appClient>) => Promise<unknown>) => {
      const dying = await capture(job.jobId, { MILVUS_MIGRATE_CAPTURE_CRASH: stage });
      const app = appClient(dying.address);
      await Promise.race([write(app).catch(() => undefined), sleep(20_000)]);
      expect(await dying.exited).toBe('SIGKILL');
      void app.closeConnection().catch(() => undefined);
    };
    // Applied by the source, never acknowledged in the log: re-read once its deadline passed.
    await writeThroughDying('forwarded', (app) => app.insert({ collection_name: 'docs', data: [{ id: 5001, tag: 'forwarded-then-killed', n: 1, vec: vector(5001) }] } as never));
    // An autoID insert applied, its minted keys never logged: the marker makes the sync compare the collection.
    await writeThroughDying('forwarded', (app) => app.insert({ collection_name: 'auto', data: [{ tag: 'auto-killed', n: 2, vec: vector(2) }] } as never));
    // Logged, never forwarded: the keys are re-read and found unchanged.
    await writeThroughDying('logged', (app) => app.delete({ collection_name: 'docs', ids: [7] } as never));

    // An application still connected to the source: only the comparisons see its write.
    const direct = client(source.uri);
    await direct.upsert({ collection_name: 'docs', data: [{ id: 8, tag: 'bypassed', n: 8, vec: vector(8) }] } as never);
    await direct.closeConnection();

    const app = appClient(survivor.address);
    await app.insert({ collection_name: 'docs', data: [{ id: 5003, tag: 'survivor', n: 3, vec: vector(5003) }] } as never);
    await app.closeConnection();
    await waitFor(job.jobId, (j) => (j.sync?.inserted ?? 0) >= 3, 'the changes of the dead endpoints applied');

    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    const ended = await waitForEnd(job.jobId);
    expect(ended.status, JSON.stringify(ended.error)).toBe('SUCCESSFUL');
    expect(await tagsById(target.uri, 'docs', [5001, 5003, 7, 8])).toEqual({ '5001': 'forwarded-then-killed', '5003': 'survivor', '7': 'even', '8': 'bypassed' });
    expect(await expectSameRows(source.uri, 'docs', target.uri, 'docs')).toBe(102);
    expect(await expectSameRows(source.uri, 'auto', target.uri, 'auto')).toBe(21);
    const reported = (await events(job.jobId)).filter((e) => e.type === 'WritesBypassedCapture');
    expect(reported.length).toBe(1);
    expect(reported[0]!.message).toMatch(/1 row\(s\) differed/);
    expect(ended.warnings.join(' ')).toMatch(/without passing through the capture endpoint/);
    // The verification looked again at the one shard the drain repaired, not at every row a second time.
    const verified = (await events(job.jobId)).find((e) => e.type === 'VerificationPassed');
    expect(verified?.message).toMatch(/the 1 shard\(s\) the drain changed compared twice/);
    await survivor.stop();
  }, 300_000);

  it('a periodic comparison during the sync copies a write that bypassed the endpoint and reports it, not the writes the endpoint logged', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 60);
    const job = await createCaptureJob({ comparisonIntervalSeconds: 2 });
    const endpoint = await capture(job.jobId);
    const app = appClient(endpoint.address);
    // The first comparison runs beside the log's cycles: cycles are recorded before it ends.
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.sync?.lastComparisonAt !== undefined, 'the first comparison of every row');
    const firstComparison = (await runtime.jobs.get(job.jobId))!.sync!.lastComparisonAt!;

    const direct = client(source.uri);
    await direct.upsert({ collection_name: 'docs', data: [{ id: 7, tag: 'bypassed', n: 7, vec: vector(7) }] } as never);
    await direct.closeConnection();
    // Writes through the endpoint go on meanwhile: logged, so never reported as bypassing.
    for (let i = 0; i < 10; i++) {
      await app.upsert({ collection_name: 'docs', data: [{ id: 3000 + i, tag: 'logged', n: i, vec: vector(3000 + i) }] } as never);
      await sleep(300);
    }
    const warned = await waitFor(job.jobId, (j) => j.warnings.some((w) => w.includes('(periodic comparison)')), 'the periodic comparison');
    expect(warned.status).toBe('SYNCING');
    const warning = warned.warnings.find((w) => w.includes('(periodic comparison)'))!;
    expect(warning).toMatch(/1 row\(s\) differed that no capture endpoint logged, e\.g\. default\.docs:7/);
    expect(Date.parse((await runtime.jobs.get(job.jobId))!.sync!.lastComparisonAt!)).toBeGreaterThan(Date.parse(firstComparison));
    const t = client(target.uri);
    const row = await t.query({ collection_name: 'docs', filter: 'id == 7', output_fields: ['tag'], consistency_level: 'Strong' } as never);
    await t.closeConnection();
    expect(row.data.map((r: Record<string, unknown>) => r.tag)).toEqual(['bypassed']);

    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    const ended = await waitForEnd(job.jobId);
    expect(ended.status, JSON.stringify(ended.error)).toBe('SUCCESSFUL');
    await app.closeConnection();
    expect(await expectSameRows(source.uri, 'docs', target.uri, 'docs')).toBe(70);
    await endpoint.stop();
  }, 300_000);

  it('switchover: after SUCCESSFUL the endpoint sends every call to the target', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 50);
    const job = await createCaptureJob({ switchover: true });
    const endpoint = await capture(job.jobId);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.syncLagSeconds !== null, 'the first sync cycle');
    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    expect((await waitForEnd(job.jobId)).status).toBe('SUCCESSFUL');
    await sleep(1_500); // the endpoint reads the job twice a second

    const app = appClient(endpoint.address);
    const written = await app.insert({ collection_name: 'docs', data: [{ id: 7777, tag: 'after-switchover', n: 1, vec: vector(7777) }] } as never);
    expect(written.status.error_code).toBe('Success');
    const read = await app.query({ collection_name: 'docs', filter: 'id == 7777', output_fields: ['tag'], consistency_level: 'Strong' } as never);
    await app.closeConnection();
    expect(read.data.map((r: Record<string, unknown>) => r.tag)).toEqual(['after-switchover']);
    const [s, t] = [client(source.uri), client(target.uri)];
    const onSource = await s.query({ collection_name: 'docs', filter: 'id == 7777', output_fields: ['id'], consistency_level: 'Strong' } as never);
    const onTarget = await t.query({ collection_name: 'docs', filter: 'id == 7777', output_fields: ['id'], consistency_level: 'Strong' } as never);
    await Promise.all([s.closeConnection(), t.closeConnection()]);
    expect(onSource.data).toEqual([]);
    expect(onTarget.data.length).toBe(1);
    await endpoint.stop();
  }, 300_000);

  it('switchover: the endpoint sends writes to the target once the log is drained, before the verification; a write that bypassed it is copied under a short fence, a write after the switch is kept', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 80);
    const job = await createCaptureJob({ switchover: true });
    const endpoint = await capture(job.jobId);
    const app = appClient(endpoint.address);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.syncLagSeconds !== null, 'the first sync cycle');
    await app.upsert({ collection_name: 'docs', data: [{ id: 3, tag: 'logged-before-stop', n: 3, vec: vector(3) }] } as never);
    // An application still connected to the source: two rows only the comparison after the switch finds.
    const direct = client(source.uri);
    await direct.upsert({ collection_name: 'docs', data: [{ id: 8, tag: 'bypassed', n: 8, vec: vector(8) }, { id: 9, tag: 'bypassed', n: 9, vec: vector(9) }] } as never);
    await direct.closeConnection();

    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    /** Writes until the endpoint answers as `until` wants (a write refused is not applied anywhere). */
    const writeUntil = async (write: () => Promise<{ status: { error_code: string | number; reason: string } }>, until: (accepted: boolean) => boolean) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const reply = await write();
        if (until(reply.status.error_code === 'Success')) return reply;
        await sleep(100);
      }
      throw new Error('the endpoint never answered as expected');
    };
    // Until the endpoint has seen the fence, a write that changes nothing (row 4 as it is).
    const refused = await writeUntil(() => app.upsert({ collection_name: 'docs', data: [{ id: 4, tag: 'odd', n: 3, vec: vector(3) }] } as never), (accepted) => !accepted);
    expect(refused.status.reason).toContain(job.jobId);
    // Then until it takes writes again: sent to the target from now on.
    await writeUntil(() => app.upsert({ collection_name: 'docs', data: [{ id: 9, tag: 'after-switch', n: 9, vec: vector(9) }] } as never), (accepted) => accepted);
    // (The verification may fence writes briefly while it copies the rows that bypassed the endpoint.)
    await writeUntil(() => app.insert({ collection_name: 'docs', data: [{ id: 9001, tag: 'after-switch', n: 1, vec: vector(9001) }] } as never), (accepted) => accepted);

    const ended = await waitForEnd(job.jobId);
    expect(ended.status, JSON.stringify(ended.error)).toBe('SUCCESSFUL');
    await app.closeConnection();
    const record = (await runtime.jobs.get(job.jobId))!;
    expect(record.sync!.switchedAt).toBeDefined();
    expect(record.sync!.repairFencedAt).toBeUndefined();
    // The switch came before the verification: the applications' downtime does not include the comparison of every row.
    const types = (await events(job.jobId)).map((e) => e.type);
    expect(types.indexOf('SwitchedOver')).toBeGreaterThan(-1);
    expect(types.indexOf('SwitchedOver')).toBeLessThan(types.indexOf('VerificationPassed'));

    const keys = [3, 4, 8, 9, 9001];
    const [onSource, onTarget] = [await tagsById(source.uri, 'docs', keys), await tagsById(target.uri, 'docs', keys)];
    // 8 bypassed the endpoint: copied. 9 bypassed it too, then the application wrote it after the switch: the application's write stands.
    expect(onTarget).toEqual({ '3': 'logged-before-stop', '4': 'odd', '8': 'bypassed', '9': 'after-switch', '9001': 'after-switch' });
    expect(onSource).toEqual({ '3': 'logged-before-stop', '4': 'odd', '8': 'bypassed', '9': 'bypassed' });
    const verified = (await events(job.jobId)).find((e) => e.type === 'VerificationPassed')!;
    expect(verified.message).toMatch(/compared after the switchover/);
    expect(ended.verification).toMatchObject({ passed: true, collections: [{ key: 'default.docs', match: true }] });
    await endpoint.stop();
  }, 300_000);

  it('switchover, stopped before the first comparison of every row ended: the drain applies the log from the copy on instead, and the comparison after the switch finds the rest', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 12_000);
    const job = await createCaptureJob({ switchover: true });
    const endpoint = await capture(job.jobId);
    const app = appClient(endpoint.address);
    // Written during the copy: in the log, and applied by the drain.
    await app.upsert({ collection_name: 'docs', data: [{ id: 5, tag: 'during-copy', n: 5, vec: vector(5) }] } as never);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING', 'the sync', 120_000);
    // An application still on the source, in the last shard (the comparison, were it to run, would meet it last).
    const direct = client(source.uri);
    await direct.upsert({ collection_name: 'docs', data: [{ id: 11_999, tag: 'bypassed', n: 6, vec: vector(6) }] } as never);
    await direct.closeConnection();
    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    const ended = await waitForEnd(job.jobId);
    expect(ended.status, JSON.stringify(ended.error)).toBe('SUCCESSFUL');
    await app.closeConnection();
    // 12,000 rows take seconds to compare: the stop came first, and the drain read only the logged keys.
    const drained = (await events(job.jobId)).find((e) => e.type === 'SyncDrained')!;
    expect((drained.details as { rowsCompared: number }).rowsCompared).toBeLessThan(100);
    expect(await expectSameRows(source.uri, 'docs', target.uri, 'docs')).toBe(12_000);
    expect(await tagsById(target.uri, 'docs', [5, 11999])).toEqual({ '5': 'during-copy', '11999': 'bypassed' });
    await endpoint.stop();
  }, 300_000);

  it('switchover with names mapped: calls naming the source collection reach the renamed target collection; others pass unchanged', async () => {
    await resetClusters();
    await createKeyed(source.uri, 'docs', 40);
    await createKeyed(source.uri, 'other', 5);
    // milvus-lite has no databases: only the collection is renamed (the database rewriting is unit-tested in nameRewrite.test.ts).
    const job = await runtime.service.create({
      type: 'online',
      source: { uri: source.uri },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: [{ name: 'docs', targetName: 'docs_v2' }] }],
      options: { rowsPerShard: 400, lagAlertSeconds: 30, syncStrategy: 'capture', captureWriteTimeoutSeconds: 3, switchover: true },
    });
    const endpoint = await capture(job.jobId);
    await waitFor(job.jobId, (j) => j.status === 'SYNCING' && j.syncLagSeconds !== null, 'the first sync cycle');
    await runtime.service.stopSync(job.jobId, { confirmWritesStopped: true });
    expect((await waitForEnd(job.jobId)).status).toBe('SUCCESSFUL');
    // A collection of the target's own that the job does not move, with a name the source also has.
    await createKeyed(target.uri, 'other', 3);
    await sleep(1_500); // the endpoint reads the job twice a second

    const app = appClient(endpoint.address);
    const written = await app.insert({ collection_name: 'docs', data: [{ id: 7777, tag: 'after-switchover', n: 1, vec: vector(7777) }] } as never);
    expect(written.status.error_code).toBe('Success');
    const read = await app.query({ collection_name: 'docs', filter: 'id in [1, 7777]', output_fields: ['id', 'tag'], consistency_level: 'Strong' } as never);
    expect(Object.fromEntries(read.data.map((r: Record<string, unknown>) => [String(r.id), r.tag]))).toEqual({ '1': 'even', '7777': 'after-switchover' });
    const found = await app.search({ collection_name: 'docs', data: [vector(7777)], limit: 1, output_fields: ['id', 'tag'], consistency_level: 'Strong' } as never);
    expect(found.results.map((r: Record<string, unknown>) => [String(r.id), r.tag])).toEqual([['7777', 'after-switchover']]);
    // Replies name the collection as the application knows it.
    const described = await app.describeCollection({ collection_name: 'docs' });
    // (milvus-lite leaves the reply's collection_name empty; the schema names the collection.)
    expect(described.schema.name).toBe('docs');
    expect(described.collection_name).not.toBe('docs_v2');
    expect((await app.listCollections()).data.map((c) => c.name).sort()).toEqual(['docs', 'other']);
    // A collection the job does not move: forwarded under its own name, to the target's collection of that name.
    const other = await app.query({ collection_name: 'other', filter: 'id > 0', output_fields: ['id'], consistency_level: 'Strong' } as never);
    expect(other.data.map((r: Record<string, unknown>) => String(r.id)).sort()).toEqual(['1', '2', '3']);
    await app.closeConnection();

    const [s, t] = [client(source.uri), client(target.uri)];
    const onSource = await s.query({ collection_name: 'docs', filter: 'id == 7777', output_fields: ['id'], consistency_level: 'Strong' } as never);
    const onTarget = await t.query({ collection_name: 'docs_v2', filter: 'id == 7777', output_fields: ['tag'], consistency_level: 'Strong' } as never);
    const targetCollections = (await t.listCollections()).data.map((c) => c.name).sort();
    await Promise.all([s.closeConnection(), t.closeConnection()]);
    expect(onSource.data).toEqual([]);
    expect(onTarget.data.map((r: Record<string, unknown>) => r.tag)).toEqual(['after-switchover']);
    expect(targetCollections).toEqual(['docs_v2', 'other']);
    await endpoint.stop();
  }, 300_000);
});
