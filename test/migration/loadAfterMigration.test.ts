import { DataType, LoadState } from '@zilliz/milvus2-sdk-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationService } from '../../lib/api/service';
import { finalize } from '../../lib/migration/finalize';
import { refusesReplicas } from '../../lib/migration/loadCollections';
import { preflight } from '../../lib/migration/preflight';
import { verify } from '../../lib/migration/verify';
import { openCluster } from '../../lib/milvus';
import { grpcCall } from '../support/milvusClients';
import type { Services } from '../../lib/services';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';
import { copyAll } from '../support/steps';
import { ok, trackedClients } from '../support/milvusClients';
import { stepServices } from '../support/stepServices';

/**
 * options.loadAfterMigration: Finalize loads every migrated collection on the target with the
 * source's replica count. Replicas are modelled by the in-memory server (test/support/fakeMilvus:
 * GetReplicas answers the count a load asked for; `queryNodes` refuses more replicas than nodes);
 * milvus-lite cannot tell its replicas, which counts as one.
 */

const prefix = `load_${randomBytes(3).toString('hex')}`;
let source: FakeMilvus;
let target: FakeMilvus;
let smallTarget: FakeMilvus;
let appendTarget: FakeMilvus;
let services: Services;
let service: MigrationService;

const { client, closeAll: closeClients } = trackedClients();

const vec = (i: number) => [i % 7, (i * 3) % 11, 1, i / 100];

/** A small indexed collection with 12 rows from `firstId`, loaded with `replicas` (or left unloaded when 0). */
async function seed(uri: string, db: string, name: string, replicas: number, firstId = 0): Promise<void> {
  const c = client(uri, db);
  await ok(
    c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
      ],
    } as never),
  );
  await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' } as never));
  await ok(c.loadCollection({ collection_name: name, replica_number: Math.max(replicas, 1) } as never));
  await ok(c.insert({ collection_name: name, data: Array.from({ length: 12 }, (_, i) => ({ id: firstId + i, vec: vec(i) })) } as never));
  if (replicas === 0) await ok(c.releaseCollection({ collection_name: name }));
}

/** Replicas of a collection as the server reports them (GetReplicas), 0 when it is not loaded. */
async function replicasOf(uri: string, db: string, name: string): Promise<number> {
  const c = client(uri, db);
  const state = await c.getLoadState({ collection_name: name });
  if (state.state !== LoadState.LoadStateLoaded) return 0;
  const described: any = await grpcCall(c, 'DescribeCollection', { collection_name: name });
  const reply: any = await grpcCall(c, 'GetReplicas', { collectionID: described.collectionID });
  return reply.replicas.length;
}

async function newJob(uris: { source: string; target: string }, body: Record<string, unknown>): Promise<string> {
  const job = (await service.create({ type: 'offline', source: { uri: uris.source }, target: { uri: uris.target }, ...body })) as unknown as { jobId: string };
  return job.jobId;
}

/** The steps up to Verify, as the state machine runs them. */
async function migrate(jobId: string): Promise<void> {
  await preflight(services, { jobId });
  await copyAll(services, jobId);
  expect(await verify(services, { jobId })).toEqual({ outcome: 'PASSED' });
}

async function events(jobId: string, type: string) {
  return (await services.jobs.listEvents(jobId, { limit: 1000 })).items.filter((e) => e.type === type);
}

beforeAll(async () => {
  [source, target, smallTarget, appendTarget] = await Promise.all([
    startFakeMilvus({ version: 'v2.6.1' }),
    startFakeMilvus({ version: 'v2.6.1' }),
    startFakeMilvus({ version: 'v2.6.1', queryNodes: 1 }),
    startFakeMilvus({ version: 'v2.6.1' }),
  ]);
  ({ services, service } = await stepServices(`jobs-${prefix}`, openCluster));
  await ok(client(source.uri).createDatabase({ db_name: 'shop' } as never));
  await seed(source.uri, 'shop', 'items', 3);
  await seed(source.uri, 'shop', 'plain', 0);
});

afterAll(async () => {
  await closeClients();
  await Promise.all([source?.stop(), target?.stop(), smallTarget?.stop(), appendTarget?.stop()]);
});

describe('loadAfterMigration on servers that model replicas', () => {
  it('loads every migrated collection, renamed, with its source replica count (1 for a source that was not loaded)', async () => {
    // The source's `plain` is not loaded until the job reads it (Preflight loads it with one replica to count it).
    expect(await replicasOf(source.uri, 'shop', 'plain')).toBe(0);
    const jobId = await newJob(
      { source: source.uri, target: target.uri },
      {
        databases: [{ name: 'shop', targetName: 'shop_eu', collections: [{ name: 'items', targetName: 'items_v2' }, { name: 'plain' }] }],
        options: { loadAfterMigration: true },
      },
    );
    await migrate(jobId);
    // Verify counted the target, which loaded it with one replica: Finalize must change that.
    expect(await replicasOf(target.uri, 'shop_eu', 'items_v2')).toBe(1);
    await finalize(services, { jobId });

    expect(await replicasOf(target.uri, 'shop_eu', 'items_v2')).toBe(3);
    expect(await replicasOf(target.uri, 'shop_eu', 'plain')).toBe(1);
    const job = await services.jobs.get(jobId);
    expect(job!.status).toBe('SUCCESSFUL');
    const [loaded, ...more] = await events(jobId, 'CollectionsLoaded');
    expect(more).toHaveLength(0);
    expect(loaded!.message).toContain('2 collection(s)');
    expect(loaded!.message).toContain('shop_eu.items_v2 (3 replicas)');
    expect(loaded!.details).toMatchObject({
      count: 2,
      collections: [
        { collection: 'shop_eu.items_v2', replicas: 3, sourceReplicas: 3, action: 'reloaded' },
        { collection: 'shop_eu.plain', replicas: 1, sourceReplicas: 1, action: 'unchanged' },
      ],
    });
    // The source is left as it was.
    expect(await replicasOf(source.uri, 'shop', 'items')).toBe(3);
  });

  it('does nothing when the option is off', async () => {
    const jobId = await newJob(
      { source: source.uri, target: target.uri },
      { databases: [{ name: 'shop', targetName: 'shop_off', collections: [{ name: 'items' }] }] },
    );
    await migrate(jobId);
    await finalize(services, { jobId });
    expect((await services.jobs.get(jobId))!.status).toBe('SUCCESSFUL');
    expect(await replicasOf(target.uri, 'shop_off', 'items')).toBe(1);
    expect(await events(jobId, 'CollectionsLoaded')).toHaveLength(0);
  });

  it('fails at once with TARGET_REPLICAS_REFUSED when the target has fewer query nodes than the source has replicas', async () => {
    const jobId = await newJob(
      { source: source.uri, target: smallTarget.uri },
      { databases: [{ name: 'shop', collections: [{ name: 'items' }] }], options: { loadAfterMigration: true } },
    );
    await migrate(jobId);
    const started = Date.now();
    const error = await finalize(services, { jobId }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'PermanentError', code: 'TARGET_REPLICAS_REFUSED' });
    expect((error as Error).message).toContain('cannot load shop.items with 3 replica(s)');
    expect((error as Error).message).toContain('resource group node not enough');
    expect(Date.now() - started).toBeLessThan(10_000);
    const job = await services.jobs.get(jobId);
    expect(job!.status).not.toBe('SUCCESSFUL');
    expect(await events(jobId, 'JobSucceeded')).toHaveLength(0);
  });

  it('leaves a collection appended to, loaded with its own replica count, as it is, with a warning', async () => {
    await ok(client(appendTarget.uri).createDatabase({ db_name: 'shop' } as never));
    // The target's own collection, same schema, its own rows, serving with one replica.
    await seed(appendTarget.uri, 'shop', 'items', 1, 1000);
    const jobId = await newJob(
      { source: source.uri, target: appendTarget.uri },
      { databases: [{ name: 'shop', collections: [{ name: 'items' }] }], options: { loadAfterMigration: true, existingTarget: 'append' } },
    );
    await migrate(jobId);
    await finalize(services, { jobId });
    expect(await replicasOf(appendTarget.uri, 'shop', 'items')).toBe(1);
    const job = await services.jobs.get(jobId);
    expect(job!.status).toBe('SUCCESSFUL');
    expect(job!.warnings.join('\n')).toContain('loadAfterMigration: shop.items existed before the job and is loaded with 1 replica(s); the source has 3');
    const [loaded] = await events(jobId, 'CollectionsLoaded');
    expect(loaded!.details).toMatchObject({ collections: [{ collection: 'shop.items', replicas: 1, sourceReplicas: 3, action: 'kept' }] });
  });
});

describe('which load refusals are permanent', () => {
  it('treats too few nodes as a refusal of the replica count, and other failures as they are', () => {
    expect(refusesReplicas({ code: 304, reason: 'resource group node not enough' }, 2)).toBe(true);
    expect(refusesReplicas({ code: 304, reason: 'resource group node not enough' }, 1)).toBe(true);
    // 2.6 answers "service resource insufficient" (code 12, marked retriable) for a replica count it cannot place.
    expect(refusesReplicas({ code: 12, reason: 'service resource insufficient[currentStreamingNode=1][expectedStreamingNode=2]', retriable: true }, 2)).toBe(true);
    // With one replica the same code is a lack of memory that may pass.
    expect(refusesReplicas({ code: 12, reason: 'service resource insufficient', retriable: true }, 1)).toBe(false);
    expect(refusesReplicas({ code: 65535, reason: 'failed to load: not enough query nodes to place 2 replicas' }, 2)).toBe(true);
    expect(refusesReplicas({ code: 700, reason: 'index not found[collection=items]' }, 2)).toBe(false);
    expect(refusesReplicas({ code: 2, reason: 'service unavailable' }, 2)).toBe(false);
  });
});

describe('loadAfterMigration on milvus-lite', () => {
  const sourceUri = inject('milvusSourceUri');
  const targetUri = inject('milvusTargetUri');
  const name = `${prefix}_lite`;

  afterAll(async () => {
    for (const uri of [sourceUri, targetUri]) {
      await client(uri).dropCollection({ collection_name: name });
      await client(uri).dropCollection({ collection_name: `${name}_t` });
    }
  });

  it('loads the target collection with one replica, milvus-lite telling no replica count', async () => {
    await seed(sourceUri, 'default', name, 1);
    const jobId = await newJob({ source: sourceUri, target: targetUri }, { databases: [{ name: 'default', collections: [{ name, targetName: `${name}_t` }] }], options: { loadAfterMigration: true } });
    await migrate(jobId);
    // Verify loaded the target; released, only Finalize can load it again.
    await ok(client(targetUri).releaseCollection({ collection_name: `${name}_t` }));
    expect((await client(targetUri).getLoadState({ collection_name: `${name}_t` })).state).toBe('LoadStateNotLoad');
    await finalize(services, { jobId });
    expect((await client(targetUri).getLoadState({ collection_name: `${name}_t` })).state).toBe('LoadStateLoaded');
    expect((await services.jobs.get(jobId))!.status).toBe('SUCCESSFUL');
    const [loaded] = await events(jobId, 'CollectionsLoaded');
    expect(loaded!.details).toMatchObject({ count: 1, collections: [{ collection: `default.${name}_t`, replicas: 1, sourceReplicas: 1, action: 'loaded' }] });
  });
});
