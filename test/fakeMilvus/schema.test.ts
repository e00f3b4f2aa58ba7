import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';

let server: FakeMilvus;
const clients: MilvusClient[] = [];

function client(database?: string): MilvusClient {
  const c = new MilvusClient({ address: server.uri, database, telemetry: { enabled: false } } as any);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await startFakeMilvus({ version: 'v2.6.3' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.closeConnection()));
  await server.stop();
});

const richFields = [
  { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
  { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
  { name: 'tenant', data_type: DataType.Int64, is_partition_key: true },
  { name: 'rank', data_type: DataType.Int32, nullable: true },
  { name: 'label', data_type: DataType.VarChar, max_length: 32, default_value: 'none' },
  { name: 'big', data_type: DataType.Int64, default_value: 1234567890123 },
  { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 8, max_length: 16 },
  { name: 'cluster', data_type: DataType.Int32, is_clustering_key: true },
];

describe('fake Milvus: server, databases and collections through the real SDK', () => {
  it('answers Connect, GetVersion and CheckHealth', async () => {
    const c = client();
    expect((await c.getVersion()).version).toBe('v2.6.3');
    expect((await c.checkHealth()).isHealthy).toBe(true);
  });

  it('creates, lists, describes, alters and drops databases with properties', async () => {
    const c = client();
    const created = await c.createDatabase({ db_name: 'analytics', properties: { 'database.replica.number': 2 } } as any);
    expect(created.error_code).toBe('Success');
    expect((await c.listDatabases()).db_names).toEqual(['default', 'analytics']);
    await c.alterDatabaseProperties({ db_name: 'analytics', properties: { 'database.max.collections': 10 } } as any);
    const d = await c.describeDatabase({ db_name: 'analytics' });
    expect(d.properties).toEqual([
      { key: 'database.replica.number', value: '2' },
      { key: 'database.max.collections', value: '10' },
    ]);
    const again = await c.createDatabase({ db_name: 'analytics' });
    expect(again.error_code).not.toBe('Success');
    expect((await c.dropDatabase({ db_name: 'analytics' })).error_code).toBe('Success');
    expect((await c.listDatabases()).db_names).toEqual(['default']);
    const missing = await c.describeDatabase({ db_name: 'analytics' });
    expect(missing.status.code).toBe(800);
  });

  it('keeps collections per database, chosen by the dbname header', async () => {
    await client().createDatabase({ db_name: 'shop' });
    const shop = client('shop');
    const res = await shop.createCollection({
      collection_name: 'items',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    });
    expect(res.error_code).toBe('Success');
    expect((await shop.showCollections()).data.map((c) => c.name)).toEqual(['items']);
    expect((await client().showCollections()).data.map((c) => c.name)).not.toContain('items');
    expect((await shop.describeCollection({ collection_name: 'items' })).db_name).toBe('shop');
    const notHere = await client().describeCollection({ collection_name: 'items' });
    expect(notHere.status).toMatchObject({ code: 100, error_code: 'CollectionNotExists' });
    expect(notHere.status.reason).toContain('collection=items');
    const dropNonEmpty = await client().dropDatabase({ db_name: 'shop' });
    expect(dropNonEmpty.error_code).not.toBe('Success');
  });

  it('describes back every schema attribute it was given', async () => {
    const c = client();
    const res = await c.createCollection({
      collection_name: 'rich',
      description: 'all the things',
      fields: richFields as any,
      enable_dynamic_field: true,
      num_partitions: 4,
      shards_num: 2,
      consistency_level: 'Session',
      properties: { 'collection.ttl.seconds': 3600, 'mmap.enabled': true },
    } as any);
    expect(res.error_code).toBe('Success');
    const d = await c.describeCollection({ collection_name: 'rich' });
    expect(d.schema.description).toBe('all the things');
    expect(d.schema.enable_dynamic_field).toBe(true);
    expect(d.shards_num).toBe(2);
    expect(d.consistency_level).toBe('Session');
    expect(d.num_partitions).toBe('4');
    expect(d.properties).toEqual([
      { key: 'collection.ttl.seconds', value: '3600' },
      { key: 'mmap.enabled', value: 'true' },
    ]);
    const byName = Object.fromEntries(d.schema.fields.map((f: any) => [f.name, f]));
    expect(Object.keys(byName)).toEqual(richFields.map((f) => f.name));
    expect(byName.id).toMatchObject({ is_primary_key: true, data_type: 'VarChar', max_length: '64', fieldID: '100' });
    expect(byName.vec).toMatchObject({ data_type: 'FloatVector', dim: '4' });
    expect(byName.tenant).toMatchObject({ is_partition_key: true, nullable: false });
    expect(byName.rank).toMatchObject({ nullable: true, default_value: null });
    expect(byName.label.default_value).toBe('none');
    expect(byName.big.default_value).toBe('1234567890123');
    expect(byName.tags).toMatchObject({ data_type: 'Array', element_type: 'VarChar', max_capacity: '8', max_length: '16' });
    expect(byName.cluster.is_clustering_key).toBe(true);
    const parts = await c.showPartitions({ collection_name: 'rich' });
    expect(parts.partition_names).toEqual(['_default_0', '_default_1', '_default_2', '_default_3']);
    const manual = await c.createPartition({ collection_name: 'rich', partition_name: 'p1' });
    expect(manual.error_code).not.toBe('Success');
    expect(manual.reason).toContain('partition key');
  });

  it('describes functions (BM25) and marks their output fields', async () => {
    const c = client();
    const res = await c.createCollection({
      collection_name: 'docs',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
        { name: 'text', data_type: DataType.VarChar, max_length: 256, enable_analyzer: true, analyzer_params: { type: 'english' } },
        { name: 'sparse', data_type: DataType.SparseFloatVector },
      ],
      functions: [{ name: 'bm25', type: 1, input_field_names: ['text'], output_field_names: ['sparse'], params: {} }],
    } as any);
    expect(res.error_code).toBe('Success');
    const d = await c.describeCollection({ collection_name: 'docs' });
    expect(d.schema.functions).toHaveLength(1);
    expect(d.schema.functions[0]).toMatchObject({ name: 'bm25', type: 'BM25', input_field_names: ['text'], output_field_names: ['sparse'] });
    const sparse = d.schema.fields.find((f: any) => f.name === 'sparse')!;
    expect(sparse.is_function_output).toBe(true);
    const text = d.schema.fields.find((f: any) => f.name === 'text')!;
    expect(text.type_params.map((p: any) => p.key)).toContain('analyzer_params');
    expect(d.schema.autoID).toBe(true);
  });

  it('alters and renames collections, moving them across databases', async () => {
    const c = client();
    await c.createCollection({
      collection_name: 'old_name',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    });
    await c.alterCollectionProperties({ collection_name: 'old_name', properties: { 'collection.ttl.seconds': 60 } } as any);
    expect((await c.describeCollection({ collection_name: 'old_name' })).properties).toEqual([{ key: 'collection.ttl.seconds', value: '60' }]);
    await c.createDatabase({ db_name: 'archive' });
    const renamed = await c.renameCollection({ collection_name: 'old_name', new_collection_name: 'new_name', new_db_name: 'archive' } as any);
    expect(renamed.error_code).toBe('Success');
    expect((await c.hasCollection({ collection_name: 'old_name' })).value).toBe(false);
    expect((await client('archive').hasCollection({ collection_name: 'new_name' })).value).toBe(true);
  });

  it('manages partitions and aliases like Milvus', async () => {
    const c = client();
    await c.createCollection({
      collection_name: 'parted',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    });
    expect((await c.createPartition({ collection_name: 'parted', partition_name: 'p2024' })).error_code).toBe('Success');
    expect((await c.showPartitions({ collection_name: 'parted' })).partition_names).toEqual(['_default', 'p2024']);
    expect((await c.hasPartition({ collection_name: 'parted', partition_name: 'p2024' })).value).toBe(true);
    expect((await c.dropPartition({ collection_name: 'parted', partition_name: '_default' })).error_code).not.toBe('Success');

    expect((await c.createAlias({ collection_name: 'parted', alias: 'current' })).error_code).toBe('Success');
    expect((await c.createAlias({ collection_name: 'parted', alias: 'latest' })).error_code).toBe('Success');
    expect((await c.describeCollection({ collection_name: 'parted' })).aliases).toEqual(['current', 'latest']);
    expect((await c.describeAlias({ collection_name: 'parted', alias: 'current' } as any)).collection).toBe('parted');
    expect((await c.listAliases({ collection_name: 'parted' } as any)).aliases).toEqual(['current', 'latest']);
    // a collection is reachable through its alias
    expect((await c.describeCollection({ collection_name: 'current' })).collection_name).toBe('parted');
    const conflict = await c.createAlias({ collection_name: 'parted', alias: 'parted' });
    expect(conflict.code).toBe(1601);
    const withAliases = await c.dropCollection({ collection_name: 'parted' });
    expect(withAliases.error_code).not.toBe('Success');
    await c.createCollection({
      collection_name: 'parted2',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    });
    expect((await c.alterAlias({ collection_name: 'parted2', alias: 'latest' })).error_code).toBe('Success');
    expect((await c.describeAlias({ collection_name: 'parted2', alias: 'latest' } as any)).collection).toBe('parted2');
    expect((await c.dropAlias({ alias: 'current' })).error_code).toBe('Success');
    expect((await c.describeAlias({ collection_name: 'parted', alias: 'current' } as any)).status.code).toBe(1600);
    expect((await c.dropCollection({ collection_name: 'parted' })).error_code).toBe('Success');
  });

  it('creates, describes and drops indexes with their parameters', async () => {
    const c = client();
    await c.createCollection({
      collection_name: 'indexed',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 8 },
        { name: 'cat', data_type: DataType.VarChar, max_length: 8 },
      ],
    });
    await expect(c.loadCollection({ collection_name: 'indexed' })).rejects.toThrow(/IndexNotExist/);
    await c.createIndex({ collection_name: 'indexed', field_name: 'v', index_name: 'v_hnsw', index_type: 'HNSW', metric_type: 'IP', params: { M: 16, efConstruction: 200 } });
    await c.createIndex({ collection_name: 'indexed', field_name: 'cat', index_type: 'INVERTED' });
    const d = await c.describeIndex({ collection_name: 'indexed', index_name: 'v_hnsw' });
    expect(d.index_descriptions).toHaveLength(1);
    expect(d.index_descriptions[0]).toMatchObject({ index_name: 'v_hnsw', field_name: 'v', state: 'Finished' });
    expect(d.index_descriptions[0].params).toEqual([
      { key: 'index_type', value: 'HNSW' },
      { key: 'metric_type', value: 'IP' },
      { key: 'M', value: '16' },
      { key: 'efConstruction', value: '200' },
      { key: 'dim', value: '8' },
    ]);
    const all = await c.describeIndex({ collection_name: 'indexed' });
    expect(all.index_descriptions.map((i) => i.index_name)).toEqual(['v_hnsw', 'cat']);
    const dup = await c.createIndex({ collection_name: 'indexed', field_name: 'v', index_type: 'FLAT', metric_type: 'L2' });
    expect(dup.error_code).not.toBe('Success');
    expect((await c.getIndexState({ collection_name: 'indexed', index_name: 'cat' } as any)).state).toBe('Finished');

    expect((await c.loadCollection({ collection_name: 'indexed', replica_number: 2 } as any)).error_code).toBe('Success');
    expect((await c.getLoadState({ collection_name: 'indexed' })).state).toBe('LoadStateLoaded');
    expect((await c.getLoadingProgress({ collection_name: 'indexed' } as any)).progress).toBe('100');
    const { collectionID } = await c.describeCollection({ collection_name: 'indexed' });
    expect((await c.getReplicas({ collectionID } as any)).replicas).toHaveLength(2);
    expect((await c.dropIndex({ collection_name: 'indexed', index_name: 'cat' } as any)).error_code).not.toBe('Success');
    await c.releaseCollection({ collection_name: 'indexed' });
    expect((await c.getLoadState({ collection_name: 'indexed' })).state).toBe('LoadStateNotLoad');
    expect((await c.dropIndex({ collection_name: 'indexed', index_name: 'cat' } as any)).error_code).toBe('Success');
    expect((await c.describeIndex({ collection_name: 'indexed', index_name: 'cat' })).status.code).toBe(700);
  });

  it('answers UNIMPLEMENTED for anything else, which the SDK turns into an empty answer', async () => {
    const c = client();
    const raw = await c.listResourceGroups();
    expect(raw).toEqual({});
    await expect(c.getPartitionStatistics({ collection_name: 'indexed', partition_name: '_default' })).rejects.toThrow(TypeError);
    expect(server.implemented).not.toContain('Search');
    expect(server.implemented).toContain('Query');
  });
});
