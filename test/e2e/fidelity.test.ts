import { DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationService } from '../../lib/api/service';
import { preflight } from '../../lib/migration/preflight';
import { verify } from '../../lib/migration/verify';
import { describeCollection, openCluster } from '../../lib/milvus';
import type { Services } from '../../lib/services';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';
import { copyAll, CrashAfter, crashingStore } from '../support/steps';
import { ok, trackedClients } from '../support/milvusClients';
import { stepServices } from '../support/stepServices';

/**
 * Metadata fidelity, databases and existing target collections, driven step by step on two
 * in-memory Milvus servers (test/support/fakeMilvus): milvus-lite has no databases, partitions,
 * aliases or nullable fields.
 */

let source: FakeMilvus;
let target: FakeMilvus;
let oldTarget: FakeMilvus;
let services: Services;
let service: MigrationService;
const prefix = `fid_${randomBytes(3).toString('hex')}`;

const { client, closeAll: closeClients } = trackedClients();


async function newJob(body: Record<string, unknown>, targetUri = target.uri): Promise<string> {
  const job = (await service.create({ type: 'offline', source: { uri: source.uri }, target: { uri: targetUri }, ...body })) as unknown as { jobId: string };
  return job.jobId;
}


/** Ids per partition, sorted. */
async function idsByPartition(c: MilvusClient, collection: string): Promise<Record<string, string[]>> {
  await c.loadCollection({ collection_name: collection });
  const parts = await ok(c.showPartitions({ collection_name: collection }));
  const out: Record<string, string[]> = {};
  for (const p of parts.partition_names as string[]) {
    const r = await ok(c.query({ collection_name: collection, partition_names: [p], filter: 'id >= 0', output_fields: ['id'], limit: 16384 } as never));
    out[p] = (r as any).data.map((row: any) => String(row.id)).sort();
  }
  return out;
}

const vec = (i: number) => [i % 7, (i * 3) % 11, 1, i / 100];

/** `shop.items`: nullable, default, clustering key, Strong, 3 shards, TTL and mmap, partitions p_a and p_b, two aliases, HNSW. */
async function seedItems(db: string, name: string, rows = 60): Promise<void> {
  const c = client(source.uri, db);
  await ok(
    c.createCollection({
      collection_name: name,
      description: 'catalog items',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
        { name: 'rank', data_type: DataType.Int32, nullable: true },
        { name: 'label', data_type: DataType.VarChar, max_length: 32, default_value: 'none' },
        { name: 'bucket', data_type: DataType.Int64, is_clustering_key: true },
      ],
      enable_dynamic_field: true,
      consistency_level: 'Strong',
      shards_num: 3,
      properties: { 'collection.ttl.seconds': 3600, 'mmap.enabled': true },
    } as never),
  );
  for (const p of ['p_a', 'p_b']) await ok(c.createPartition({ collection_name: name, partition_name: p }));
  await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_name: 'vec_hnsw', index_type: 'HNSW', metric_type: 'IP', params: { M: 12, efConstruction: 96 } } as never));
  await ok(c.loadCollection({ collection_name: name }));
  const partitions = ['_default', 'p_a', 'p_b'];
  for (const [k, partition] of partitions.entries()) {
    const data = [];
    for (let i = k; i < rows; i += partitions.length) {
      data.push({ id: i, vec: vec(i), rank: i % 4 === 0 ? null : i, label: `l${i}`, bucket: i % 5, extra: `x${i}` });
    }
    await ok(c.insert({ collection_name: name, partition_name: partition, data } as never));
  }
  for (const alias of [`${name}_live`, `${name}_v1`]) await ok(c.createAlias({ collection_name: name, alias }));
}

/** A partition-key collection with 8 partitions. */
async function seedTenants(db: string, name: string): Promise<void> {
  const c = client(source.uri, db);
  await ok(
    c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
        { name: 'tenant', data_type: DataType.VarChar, max_length: 16, is_partition_key: true },
      ],
      num_partitions: 8,
    } as never),
  );
  await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'COSINE' } as never));
  await ok(c.loadCollection({ collection_name: name }));
  await ok(c.insert({ collection_name: name, data: Array.from({ length: 20 }, (_, i) => ({ id: i, vec: vec(i), tenant: `t${i % 3}` })) } as never));
}

beforeAll(async () => {
  [source, target, oldTarget] = await Promise.all([startFakeMilvus({ version: 'v2.6.1' }), startFakeMilvus({ version: 'v2.6.1' }), startFakeMilvus({ version: 'v2.4.9' })]);
  ({ services, service } = await stepServices(`jobs-${prefix}`, openCluster));
  await ok(client(source.uri).createDatabase({ db_name: 'shop', properties: { 'database.max.collections': 50 } } as never));
  await seedItems('shop', 'items');
  await seedTenants('shop', 'tenants');
});

afterAll(async () => {
  await closeClients();
  await Promise.all([source?.stop(), target?.stop(), oldTarget?.stop()]);
});

describe('metadata carried to the target', () => {
  let jobId: string;

  it('creates the missing target database with the source properties and copies every collection, renamed, with its rows', async () => {
    jobId = await newJob({
      databases: [{ name: 'shop', targetName: 'shop2', collections: [{ name: 'items', targetName: 'items_copy' }, { name: 'tenants' }] }],
      options: { indexPolicy: 'preserve', rowsPerShard: 7, batchBytes: 65536 },
    });
    await preflight(services, { jobId });
    // Preflight writes nothing: the target database does not exist yet.
    expect((await client(target.uri).listDatabases()).db_names).toEqual(['default']);
    // A kill between a batch and its checkpoint, resumed: partitioned shards clear only their own partition.
    await expect(copyAll(services, jobId, { ...services, jobs: crashingStore(services.jobs, 4) }, { checkpointIntervalMs: 0 })).rejects.toThrow(CrashAfter);
    await copyAll(services, jobId);
    expect(await verify(services, { jobId })).toEqual({ outcome: 'PASSED' });
    const db = await client(target.uri).describeDatabase({ db_name: 'shop2' });
    expect(db.properties).toEqual([{ key: 'database.max.collections', value: '50' }]);
    const types = ((await service.events(jobId, { limit: '1000' })) as any).items.map((e: any) => e.type);
    expect(types).toContain('DatabaseCreated');
    expect(types).toContain('AliasesCreated');
  });

  it('keeps fields (nullable, default, clustering key), consistency, shards, properties, description and the dynamic field', async () => {
    const s = await describeCollection(openCluster({ uri: source.uri }), 'shop', 'items');
    const t = await describeCollection(openCluster({ uri: target.uri }), 'shop2', 'items_copy');
    expect(t.fields).toEqual(s.fields);
    expect(t.fields.find((f) => f.name === 'rank')?.nullable).toBe(true);
    expect(t.fields.find((f) => f.name === 'label')?.defaultValue).toBe('none');
    expect(t.fields.find((f) => f.name === 'bucket')?.isClusteringKey).toBe(true);
    expect(t.consistencyLevel).toBe('Strong');
    expect(t.shardsNum).toBe(3);
    expect(t.description).toBe('catalog items');
    expect(t.enableDynamicField).toBe(true);
    expect(t.properties).toEqual({ 'collection.ttl.seconds': '3600', 'mmap.enabled': 'true' });
  });

  it('keeps the partitions, each row in its partition, and the aliases', async () => {
    const s = await idsByPartition(client(source.uri, 'shop'), 'items');
    const t = await idsByPartition(client(target.uri, 'shop2'), 'items_copy');
    expect(Object.keys(t).sort()).toEqual(['_default', 'p_a', 'p_b']);
    expect(t).toEqual(s);
    expect(s.p_a.length).toBe(20);
    const aliases = await client(target.uri, 'shop2').listAliases({ collection_name: 'items_copy' } as never);
    expect([...(aliases as any).aliases].sort()).toEqual(['items_live', 'items_v1']);
    const read = async (uri: string, db: string, name: string) =>
      ((await client(uri, db).query({ collection_name: name, filter: 'id in [4, 5]', output_fields: ['*'] } as never)) as any).data;
    const rows = await read(target.uri, 'shop2', 'items_copy');
    expect(rows).toEqual(await read(source.uri, 'shop', 'items'));
    expect(rows.find((r: any) => String(r.id) === '4')).toMatchObject({ rank: null, label: 'l4' });
    expect(JSON.stringify(rows)).toContain('x4'); // the dynamic key
  });

  it('keeps the index type, metric and build parameters under indexPolicy preserve', async () => {
    const t = await describeCollection(openCluster({ uri: target.uri }), 'shop2', 'items_copy');
    expect(t.indexes).toEqual([{ fieldName: 'vec', indexName: 'vec_hnsw', indexType: 'HNSW', metricType: 'IP', params: { M: '12', efConstruction: '96' } }]);
  });

  it('keeps a partition key with its partition count', async () => {
    const t = await describeCollection(openCluster({ uri: target.uri }), 'shop2', 'tenants');
    expect(t.fields.find((f) => f.name === 'tenant')?.isPartitionKey).toBe(true);
    expect(t.numPartitions).toBe(8);
    expect(t.partitions).toBeUndefined();
    const count = await client(target.uri, 'shop2').query({ collection_name: 'tenants', filter: '', output_fields: ['count(*)'] } as never);
    expect(Number((count as any).data[0]['count(*)'])).toBe(20);
  });
});

describe('what the target cannot hold is refused before anything is written', () => {
  it('fails Preflight naming the nullable field on a Milvus 2.4 target, and leaves the target untouched', async () => {
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'shop_old', collections: [{ name: 'items' }] }] }, oldTarget.uri);
    await expect(preflight(services, { jobId })).rejects.toMatchObject({ code: 'TARGET_UNSUPPORTED_FEATURE', message: expect.stringContaining('nullable field rank') });
    expect((await client(oldTarget.uri).listDatabases()).db_names).toEqual(['default']);
  });
});

describe('target collections that exist already (options.existingTarget)', () => {
  const setup = async (db: string) => {
    await ok(client(target.uri).createDatabase({ db_name: db } as never));
    const c = client(target.uri, db);
    // Same schema as shop.items (a partitionless target: the source's partitions are added to it).
    await ok(
      c.createCollection({
        collection_name: 'items',
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
          { name: 'rank', data_type: DataType.Int32, nullable: true },
          { name: 'label', data_type: DataType.VarChar, max_length: 64, default_value: 'none' },
          { name: 'bucket', data_type: DataType.Int64 },
        ],
        enable_dynamic_field: true,
      } as never),
    );
    await ok(c.createIndex({ collection_name: 'items', field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'IP' } as never));
    await ok(c.loadCollection({ collection_name: 'items' }));
    await ok(c.insert({ collection_name: 'items', data: [1000, 1001, 1002].map((i) => ({ id: i, vec: vec(i), rank: 1, label: 'mine', bucket: 0 })) } as never));
    return c;
  };

  it("'fail' (the default) fails the job with TARGET_COLLECTION_EXISTS naming it", async () => {
    await setup('ex_fail');
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'ex_fail', collections: [{ name: 'items' }] }] });
    await expect(preflight(services, { jobId })).rejects.toMatchObject({ code: 'TARGET_COLLECTION_EXISTS', message: expect.stringContaining('collection items already exists in database ex_fail') });
  });

  it("'skip' leaves the collection alone and reports it", async () => {
    const c = await setup('ex_skip');
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'ex_skip' }], options: { existingTarget: 'skip' } });
    await preflight(services, { jobId });
    await copyAll(services, jobId);
    expect(await verify(services, { jobId })).toEqual({ outcome: 'PASSED' });
    const job = await services.jobs.get(jobId);
    expect((await services.jobs.allCollections(jobId)).map((c) => c.key)).toEqual(['shop.tenants']);
    expect(job!.warnings.join('\n')).toContain('1 target collection(s) exist already and were left as they are (options.existingTarget: skip): ex_skip.items');
    const count = await c.query({ collection_name: 'items', filter: '', output_fields: ['count(*)'] } as never);
    expect(Number((count as any).data[0]['count(*)'])).toBe(3);
  });

  it("'append' adds the rows (resuming after a kill without touching the target's own rows) and verifies source plus prior rows", async () => {
    const c = await setup('ex_append');
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'ex_append', collections: [{ name: 'items' }] }], options: { existingTarget: 'append', rowsPerShard: 1000, batchBytes: 65536 } });
    await preflight(services, { jobId });
    expect(await services.jobs.getCollection(jobId, 'shop.items')).toMatchObject({ append: true, rowsBefore: 3 });
    await expect(copyAll(services, jobId, { ...services, jobs: crashingStore(services.jobs, 2) }, { checkpointIntervalMs: 0 })).rejects.toThrow(CrashAfter);
    await copyAll(services, jobId);
    expect(await verify(services, { jobId })).toEqual({ outcome: 'PASSED' });
    const count = await c.query({ collection_name: 'items', filter: '', output_fields: ['count(*)'] } as never);
    expect(Number((count as any).data[0]['count(*)'])).toBe(63);
    const mine = await c.query({ collection_name: 'items', filter: 'id >= 1000', output_fields: ['label'] } as never);
    expect((mine as any).data.map((r: any) => r.label)).toEqual(['mine', 'mine', 'mine']);
  });

  it("'append' refuses a target whose schema differs, naming the field", async () => {
    await ok(client(target.uri).createDatabase({ db_name: 'ex_mismatch' } as never));
    const c = client(target.uri, 'ex_mismatch');
    await ok(
      c.createCollection({
        collection_name: 'items',
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'vec', data_type: DataType.FloatVector, dim: 8 },
        ],
      } as never),
    );
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'ex_mismatch', collections: [{ name: 'items' }] }], options: { existingTarget: 'append' } });
    await expect(preflight(services, { jobId })).rejects.toMatchObject({ code: 'TARGET_SCHEMA_MISMATCH', message: expect.stringContaining('field vec has dimension 8 on the target, 4 on the source') });
  });
});

describe('schema mapping (databases[].collections[].mapping)', () => {
  const books = async (name: string) => {
    const c = client(source.uri, 'shop');
    await ok(
      c.createCollection({
        collection_name: name,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
          { name: 'title', data_type: DataType.VarChar, max_length: 32 },
          { name: 'year', data_type: DataType.Int32 },
          { name: 'tenant', data_type: DataType.Int64 },
        ],
        enable_dynamic_field: true,
      } as never),
    );
    await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' } as never));
    await ok(c.loadCollection({ collection_name: name }));
    await ok(c.insert({ collection_name: name, data: Array.from({ length: 30 }, (_, i) => ({ id: 500 + i, vec: vec(i), title: `b${i}`, year: 1990 + i, tenant: i % 3, note: 'dyn' })) } as never));
  };
  const mapping = {
    description: 'mapped books',
    autoId: true,
    fields: { year: { nullable: true }, title: { defaultValue: 'untitled' } },
    partitionKey: { field: 'tenant', numPartitions: 4 },
    dynamicField: false,
    shardsNum: 2,
  };

  it('creates the target with the mapped schema; the target generates the keys; dynamic keys are dropped', async () => {
    await books('books');
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'mapped', collections: [{ name: 'books', mapping }] }], options: { rowsPerShard: 5, batchBytes: 65536 } });
    await preflight(services, { jobId });
    await copyAll(services, jobId);
    expect(await verify(services, { jobId })).toEqual({ outcome: 'PASSED' });
    const job = await services.jobs.get(jobId);
    expect((await services.jobs.getCollection(jobId, 'shop.books'))!.shardCount).toBe(1); // autoID: one shard, whatever rowsPerShard says
    expect(job!.warnings.join('\n')).toContain("the source's values of id are not copied");
    const t = await describeCollection(openCluster({ uri: target.uri }), 'mapped', 'books');
    expect(t.description).toBe('mapped books');
    expect(t.fields.find((f) => f.name === 'id')).toMatchObject({ autoId: true });
    expect(t.fields.find((f) => f.name === 'year')).toMatchObject({ nullable: true });
    expect(t.fields.find((f) => f.name === 'title')).toMatchObject({ defaultValue: 'untitled' });
    expect(t.fields.find((f) => f.name === 'tenant')).toMatchObject({ isPartitionKey: true });
    expect(t.numPartitions).toBe(4);
    expect(t.enableDynamicField).toBe(false);
    expect(t.shardsNum).toBe(2);
    expect(t.properties.allow_insert_auto_id).toBeUndefined();
    const rows = ((await client(target.uri, 'mapped').query({ collection_name: 'books', filter: 'id > 0', output_fields: ['*'], limit: 100 } as never)) as any).data;
    expect(rows).toHaveLength(30);
    expect(rows.some((r: any) => Number(r.id) >= 500 && Number(r.id) < 530)).toBe(false);
    expect(rows.map((r: any) => r.title).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `b${i}`).sort());
    expect(rows.every((r: any) => !('note' in r))).toBe(true);
  });

  it('refuses to resume a copy that died after a write on a target that generates its keys (AUTO_ID_RESUME_UNSAFE)', async () => {
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'mapped_kill', collections: [{ name: 'books', mapping }] }], options: { batchBytes: 65536 } });
    await preflight(services, { jobId });
    await expect(copyAll(services, jobId, { ...services, jobs: crashingStore(services.jobs, 1) }, { checkpointIntervalMs: 0 })).rejects.toThrow(CrashAfter);
    await expect(copyAll(services, jobId)).rejects.toMatchObject({ code: 'AUTO_ID_RESUME_UNSAFE', message: expect.stringContaining('holds 30 row(s) but the checkpoint counted 0') });
  });

  it('refuses in Preflight a mapping that changes a vector field, naming the field and the rule, before any write', async () => {
    const jobId = await newJob({ databases: [{ name: 'shop', targetName: 'mapped_bad', collections: [{ name: 'books', mapping: { fields: { vec: { nullable: true } } } }] }] });
    await expect(preflight(services, { jobId })).rejects.toMatchObject({ code: 'INVALID_MAPPING', message: expect.stringContaining('field vec: vector fields are never changed') });
    expect((await client(target.uri).listDatabases()).db_names).not.toContain('mapped_bad');
  });
});
