import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { PermanentError } from '../../lib/errors';
import {
  buildIndexes,
  collectionExists,
  countRows,
  createCollection,
  describeCollection,
  describeIndexes,
  dropCollection,
  ensureLoaded,
  listCollections,
  listDatabases,
  targetCapabilities,
  translateSchema,
} from '../../lib/milvus';
import { clusters, createRichCollection, DB, insertRows, mustOk, richRows, uniqueName } from './helpers';

const { source, target } = clusters();
const created: Array<[typeof source, string]> = [];

afterAll(async () => {
  for (const [cluster, name] of created) await dropCollection(cluster, DB, name);
  await Promise.all([source.close(), target.close()]);
});

describe('catalog on milvus-lite', () => {
  it('lists the default database when the server has no databases', async () => {
    expect(await listDatabases(source)).toEqual(['default']);
  });

  it('reports that milvus-lite cannot take explicit autoID PKs', async () => {
    expect(await targetCapabilities(target)).toEqual({ allowsExplicitAutoId: false });
  });

  it('says a missing collection is missing, where hasCollection() would say it exists', async () => {
    const name = uniqueName('missing');
    expect(await collectionExists(source, DB, name)).toBe(false);
    await expect(describeCollection(source, DB, name)).rejects.toMatchObject({ name: 'PermanentError', code: 'COLLECTION_NOT_FOUND' });
    await expect(dropCollection(source, DB, name)).resolves.toBeUndefined();
  });

  it('describes, translates and recreates a collection with every supported type: the target describes the same', async () => {
    const name = uniqueName('rt_src');
    created.push([source, name]);
    await createRichCollection(source.client(DB), name);
    expect(await collectionExists(source, DB, name)).toBe(true);
    expect(await listCollections(source, DB)).toContain(name);

    const spec = await describeCollection(source, DB, name);
    expect(spec.primaryField).toBe('id');
    expect(spec.enableDynamicField).toBe(true);
    expect(spec.fields.find((f) => f.name === 'i64')?.defaultValue).toBe('123456789012');
    expect(spec.fields.find((f) => f.name === 'b')?.defaultValue).toBe(true);
    expect(spec.fields.find((f) => f.name === 'as')).toMatchObject({ elementType: 'VarChar', maxCapacity: 4, maxLength: 10 });
    // milvus-lite does not describe functions: the BM25 function is rebuilt from the fields.
    expect(spec.functions).toEqual([
      { name: 'bm_bm25', description: '', type: 'BM25', inputFieldNames: ['txt'], outputFieldNames: ['bm'], params: {}, inferred: true },
    ]);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);

    const targetName = uniqueName('rt_dst');
    created.push([target, targetName]);
    const { spec: targetSpec, warnings } = translateSchema(spec, { targetName, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
    expect(warnings).toHaveLength(1); // the rebuilt function
    await createCollection(target, DB, targetSpec);
    await createCollection(target, DB, targetSpec); // same schema again: accepted, nothing changes

    const described = await describeCollection(target, DB, targetName);
    expect(described.fields).toEqual(spec.fields);
    expect(described.functions.map(({ inferred: _i, name: _n, ...f }) => f)).toEqual(spec.functions.map(({ inferred: _i, name: _n, ...f }) => f));
    expect(described).toMatchObject({ description: 'rich collection', primaryField: 'id', enableDynamicField: true });

    // The target's function really is BM25: rows written without `bm` get it computed and can be searched by text.
    await ensureLoaded(target, DB, targetSpec);
    const indexes = await describeIndexes(target, DB, targetName);
    expect(indexes.map((i) => i.fieldName).sort()).toEqual(['bfv', 'bm', 'bv', 'fv', 'hv', 'sv']);
    expect(indexes.find((i) => i.fieldName === 'bm')?.metricType).toBe('BM25');
    expect(indexes.find((i) => i.fieldName === 'fv')).toMatchObject({ indexType: 'AUTOINDEX', metricType: 'COSINE' });
    await insertRows(target.client(DB), targetName, richRows(['r1', 'r2', 'r3'], 3));
    const hits = await mustOk(
      target.client(DB).search({ collection_name: targetName, data: ['milvus'], anns_field: 'bm', limit: 3, output_fields: ['id'] }),
    );
    expect(hits.results.map((h: { id: string }) => h.id)).toEqual(['r3']);
    expect(await countRows(target, DB, targetName)).toBe(3);
    await buildIndexes(target, DB, targetSpec); // all exist: nothing to create, returns once built
  });

  it('refuses a schema the target cannot hold with a PermanentError', async () => {
    const name = uniqueName('nullable');
    const spec = {
      name,
      description: '',
      primaryField: 'id',
      fields: [
        { name: 'id', description: '', dataType: 'Int64' as const, isPrimaryKey: true, autoId: false, nullable: false, isPartitionKey: false, isClusteringKey: false, isFunctionOutput: false, typeParams: {} },
        { name: 'x', description: '', dataType: 'Int32' as const, isPrimaryKey: false, autoId: false, nullable: true, isPartitionKey: false, isClusteringKey: false, isFunctionOutput: false, typeParams: {} },
        { name: 'v', description: '', dataType: 'FloatVector' as const, dim: 2, isPrimaryKey: false, autoId: false, nullable: false, isPartitionKey: false, isClusteringKey: false, isFunctionOutput: false, typeParams: {} },
      ],
      functions: [],
      enableDynamicField: false,
      consistencyLevel: 'Strong',
      properties: {},
      indexes: [],
    };
    const error = await createCollection(target, DB, spec).catch((e) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('nullable');
    expect(await collectionExists(target, DB, name)).toBe(false);
  });

  it('builds indexes idempotently and falls back from AUTOINDEX where milvus-lite names another type', async () => {
    const name = uniqueName('idx');
    created.push([source, name]);
    await mustOk(
      source.client(DB).createCollection({
        collection_name: name,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'fv', data_type: DataType.FloatVector, dim: 4 },
          { name: 'bv', data_type: DataType.BinaryVector, dim: 8 },
          { name: 'sv', data_type: DataType.SparseFloatVector },
        ],
      }),
    );
    const spec = translateSchema(await describeCollection(source, DB, name), { targetName: name, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false }).spec;
    await buildIndexes(source, DB, spec);
    await buildIndexes(source, DB, spec);
    const indexes = await describeIndexes(source, DB, name);
    expect(Object.fromEntries(indexes.map((i) => [i.fieldName, [i.indexType, i.metricType]]))).toEqual({
      fv: ['AUTOINDEX', 'COSINE'],
      bv: ['BIN_FLAT', 'HAMMING'],
      sv: ['SPARSE_INVERTED_INDEX', 'IP'],
    });
    expect(await countRows(source, DB, name)).toBe(0);
  });
});
