import { describe, expect, it } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { isVectorType, primaryField, toFieldType, translateSchema, type CollectionSpec, type DataTypeName, type FieldSpec } from '../../lib/milvus';

const field = (name: string, dataType: DataTypeName, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  description: '',
  dataType,
  isPrimaryKey: false,
  autoId: false,
  nullable: false,
  isPartitionKey: false,
  isClusteringKey: false,
  isFunctionOutput: false,
  typeParams: {},
  ...extra,
});

/** Every field type the SDK knows that a collection can hold. */
function sourceSpec(): CollectionSpec {
  return {
    name: 'src',
    description: 'all the types',
    primaryField: 'id',
    fields: [
      field('id', 'Int64', { isPrimaryKey: true, autoId: true, description: 'pk' }),
      field('b', 'Bool', { defaultValue: false }),
      field('i8', 'Int8', { defaultValue: -3 }),
      field('i16', 'Int16'),
      field('i32', 'Int32', { nullable: true }),
      field('i64', 'Int64', { defaultValue: '9223372036854775807' }),
      field('f', 'Float', { defaultValue: 0.5 }),
      field('d', 'Double'),
      field('txt', 'VarChar', { maxLength: 1000, typeParams: { enable_analyzer: 'true', analyzer_params: '{"type":"english"}', enable_match: 'true' } }),
      field('s', 'VarChar', { maxLength: 20, defaultValue: 'x"y', isPartitionKey: true }),
      field('j', 'JSON', { nullable: true }),
      field('ai', 'Array', { elementType: 'Int32', maxCapacity: 5 }),
      field('as', 'Array', { elementType: 'VarChar', maxCapacity: 4, maxLength: 10 }),
      field('geo', 'Geometry'),
      field('ts', 'Timestamptz'),
      field('fv', 'FloatVector', { dim: 768 }),
      field('hv', 'Float16Vector', { dim: 16 }),
      field('bfv', 'BFloat16Vector', { dim: 16 }),
      field('bv', 'BinaryVector', { dim: 64 }),
      field('sv', 'SparseFloatVector'),
      field('iv', 'Int8Vector', { dim: 32 }),
      field('bm', 'SparseFloatVector', { isFunctionOutput: true }),
    ],
    functions: [{ name: 'bm_fn', description: '', type: 'BM25', inputFieldNames: ['txt'], outputFieldNames: ['bm'], params: {} }],
    enableDynamicField: true,
    shardsNum: 3,
    numPartitions: 16,
    consistencyLevel: 'Bounded',
    properties: { 'collection.ttl.seconds': '3600' },
    indexes: [
      { fieldName: 'fv', indexName: 'fv_idx', indexType: 'HNSW', metricType: 'L2', params: { M: '16', efConstruction: '200' } },
      { fieldName: 'bv', indexName: 'bv', indexType: 'BIN_IVF_FLAT', metricType: 'JACCARD', params: { nlist: '64' } },
      { fieldName: 'bm', indexName: 'bm', indexType: 'SPARSE_INVERTED_INDEX', metricType: 'BM25', params: { bm25_k1: '1.2' } },
      { fieldName: 's', indexName: 's_idx', indexType: 'INVERTED', params: {} },
    ],
  };
}

const options = { targetName: 'dst', indexPolicy: 'autoindex' as const, targetAllowsExplicitAutoId: false };

describe('translateSchema', () => {
  it('keeps every field, function and collection setting; renames; does not touch its input', () => {
    const source = sourceSpec();
    const before = structuredClone(source);
    const { spec } = translateSchema(source, options);
    expect(source).toEqual(before);
    expect(spec.name).toBe('dst');
    const strip = (f: FieldSpec) => ({ ...f, autoId: undefined });
    expect(spec.fields.map(strip)).toEqual(source.fields.map(strip));
    expect(spec.functions).toEqual(source.functions);
    expect(spec).toMatchObject({
      description: 'all the types',
      primaryField: 'id',
      enableDynamicField: true,
      shardsNum: 3,
      numPartitions: 16,
      consistencyLevel: 'Bounded',
    });
    expect(spec.properties['collection.ttl.seconds']).toBe('3600');
    // Details the schema must keep exactly.
    const byName = new Map(spec.fields.map((f) => [f.name, f]));
    expect(byName.get('fv')?.dim).toBe(768);
    expect(byName.get('as')).toMatchObject({ elementType: 'VarChar', maxCapacity: 4, maxLength: 10 });
    expect(byName.get('i64')?.defaultValue).toBe('9223372036854775807');
    expect(byName.get('txt')?.typeParams).toEqual({ enable_analyzer: 'true', analyzer_params: '{"type":"english"}', enable_match: 'true' });
    expect(byName.get('i32')?.nullable).toBe(true);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec); // plain JSON
  });

  it('drops autoID and warns, naming the collection, when the target cannot take explicit autoID PKs', () => {
    const { spec, warnings } = translateSchema(sourceSpec(), options);
    expect(primaryField(spec)).toMatchObject({ name: 'id', isPrimaryKey: true, autoId: false });
    expect(spec.properties.allow_insert_auto_id).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('src');
    expect(warnings[0]).toContain('autoID');
  });

  it('keeps autoID and sets allow_insert_auto_id when the target allows explicit PKs', () => {
    const { spec, warnings } = translateSchema(sourceSpec(), { ...options, targetAllowsExplicitAutoId: true });
    expect(primaryField(spec).autoId).toBe(true);
    expect(spec.properties.allow_insert_auto_id).toBe('true');
    expect(warnings).toEqual([]);
  });

  it('leaves a PK without autoID alone and says nothing', () => {
    const source = sourceSpec();
    source.fields[0].autoId = false;
    const { spec, warnings } = translateSchema(source, options);
    expect(primaryField(spec).autoId).toBe(false);
    expect(spec.properties.allow_insert_auto_id).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('autoindex: AUTOINDEX on every vector field, source metric kept, defaults by type otherwise; scalar indexes kept', () => {
    const { spec } = translateSchema(sourceSpec(), options);
    const byField = new Map(spec.indexes.map((i) => [i.fieldName, i]));
    const vectorNames = spec.fields.filter((f) => isVectorType(f.dataType)).map((f) => f.name);
    expect(vectorNames).toEqual(['fv', 'hv', 'bfv', 'bv', 'sv', 'iv', 'bm']);
    for (const name of vectorNames) expect(byField.get(name)?.indexType).toBe('AUTOINDEX');
    expect(byField.get('fv')).toEqual({ fieldName: 'fv', indexName: 'fv_idx', indexType: 'AUTOINDEX', metricType: 'L2', params: {} });
    expect(byField.get('hv')?.metricType).toBe('COSINE');
    expect(byField.get('bfv')?.metricType).toBe('COSINE');
    expect(byField.get('bv')?.metricType).toBe('JACCARD');
    expect(byField.get('sv')?.metricType).toBe('IP');
    expect(byField.get('bm')?.metricType).toBe('BM25');
    expect(byField.get('s')).toEqual({ fieldName: 's', indexName: 's_idx', indexType: 'INVERTED', params: {} });
  });

  it('autoindex defaults: COSINE for float vectors, HAMMING for binary, IP for sparse, BM25 for function outputs', () => {
    const source = sourceSpec();
    source.indexes = [];
    const { spec } = translateSchema(source, options);
    const metric = Object.fromEntries(spec.indexes.map((i) => [i.fieldName, i.metricType]));
    expect(metric).toEqual({ fv: 'COSINE', hv: 'COSINE', bfv: 'COSINE', bv: 'HAMMING', sv: 'IP', iv: 'L2', bm: 'BM25' });
  });

  it('preserve: keeps source index types, metrics and params; unindexed vectors still get AUTOINDEX', () => {
    const { spec } = translateSchema(sourceSpec(), { ...options, indexPolicy: 'preserve' });
    const byField = new Map(spec.indexes.map((i) => [i.fieldName, i]));
    expect(byField.get('fv')).toEqual({ fieldName: 'fv', indexName: 'fv_idx', indexType: 'HNSW', metricType: 'L2', params: { M: '16', efConstruction: '200' } });
    expect(byField.get('bv')).toEqual({ fieldName: 'bv', indexName: 'bv', indexType: 'BIN_IVF_FLAT', metricType: 'JACCARD', params: { nlist: '64' } });
    expect(byField.get('bm')?.params).toEqual({ bm25_k1: '1.2' });
    expect(byField.get('hv')).toMatchObject({ indexType: 'AUTOINDEX', metricType: 'COSINE' });
  });

  it('warns about a function rebuilt from the fields, and about an output no function produces', () => {
    const source = sourceSpec();
    source.functions[0].inferred = true;
    const inferred = translateSchema(source, { ...options, targetAllowsExplicitAutoId: true });
    expect(inferred.spec.functions[0].inferred).toBeUndefined();
    expect(inferred.warnings).toHaveLength(1);
    expect(inferred.warnings[0]).toContain('BM25(txt)');
    source.functions = [];
    const orphan = translateSchema(source, { ...options, targetAllowsExplicitAutoId: true });
    expect(orphan.warnings.join('\n')).toContain('field bm is a function output but no function produces it');
  });

  it('turns specs into clean SDK field objects', () => {
    const { spec } = translateSchema(sourceSpec(), options);
    const byName = new Map(spec.fields.map((f) => [f.name, toFieldType(f)]));
    expect(byName.get('as')).toMatchObject({ data_type: DataType.Array, element_type: DataType.VarChar, type_params: { max_capacity: '4', max_length: '10' } });
    expect(byName.get('fv')).toMatchObject({ data_type: DataType.FloatVector, type_params: { dim: '768' } });
    expect(byName.get('i64')?.default_value).toBe('9223372036854775807');
    expect(byName.get('i32')?.nullable).toBe(true);
    expect('nullable' in byName.get('i16')!).toBe(false); // milvus-lite refuses any mention of nullable
    expect(byName.get('bm')?.is_function_output).toBe(true);
  });
});

describe('what the target carries and refuses (translateSchema, appendMismatch)', () => {
  it('keeps partitions and aliases, and never copies a property the service decides (allow_insert_auto_id)', () => {
    const source = { ...sourceSpec(), partitions: ['_default', 'p1'], aliases: ['live'] };
    source.properties = { ...source.properties, allow_insert_auto_id: 'true', 'mmap.enabled': 'true' };
    const { spec } = translateSchema(source, options);
    expect(spec.partitions).toEqual(['_default', 'p1']);
    expect(spec.aliases).toEqual(['live']);
    expect(spec.properties).toEqual({ 'collection.ttl.seconds': '3600', 'mmap.enabled': 'true' });
    expect(translateSchema(source, { ...options, targetAllowsExplicitAutoId: true }).spec.properties.allow_insert_auto_id).toBe('true');
  });

  it.each([
    ['v2.3.9', 'the default value of field b'],
    ['v2.4.5', 'nullable field i32'],
    ['v2.5.4', 'field geo of type Geometry'],
  ])('refuses on a %s target, naming %s', (version, what) => {
    let error: unknown;
    try {
      translateSchema(sourceSpec(), { ...options, targetVersion: version });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'TARGET_UNSUPPORTED_FEATURE', message: expect.stringContaining(what) });
  });

  it('accepts every type on a 2.6 target and checks nothing when the target does not say its version', () => {
    expect(() => translateSchema(sourceSpec(), { ...options, targetVersion: 'v2.6.0' })).not.toThrow();
    expect(() => translateSchema(sourceSpec(), options)).not.toThrow();
  });

  it('refuses a function on a 2.4 target, naming its output field', () => {
    const source = sourceSpec();
    source.fields = source.fields.filter((f) => !['i32', 'j', 'geo', 'ts', 'iv'].includes(f.name));
    expect(() => translateSchema(source, { ...options, targetVersion: '2.4.9' })).toThrow(/function bm_fn \(BM25\) producing field bm/);
  });

  it('appendMismatch names the field and the rule', async () => {
    const { appendMismatch } = await import('../../lib/milvus');
    const expected = translateSchema(sourceSpec(), options).spec;
    expect(appendMismatch(expected, structuredClone(expected))).toBeUndefined();
    const wider = structuredClone(expected);
    wider.fields.find((f) => f.name === 's')!.maxLength = 40;
    expect(appendMismatch(expected, wider)).toBeUndefined();
    const cases: Array<[(t: CollectionSpec) => void, string]> = [
      [(t) => (t.fields = t.fields.filter((f) => f.name !== 'd')), 'field d is missing on the target'],
      [(t) => (t.fields.find((f) => f.name === 'fv')!.dim = 8), 'field fv has dimension 8 on the target, 768 on the source'],
      [(t) => (t.fields.find((f) => f.name === 'd')!.dataType = 'Float'), 'field d is Float on the target, Double on the source'],
      [(t) => (t.fields.find((f) => f.name === 's')!.maxLength = 5), 'field s has max_length 5 on the target, 20 on the source'],
      [(t) => (t.fields.find((f) => f.name === 'i32')!.nullable = false), 'field i32 is nullable on the source but not on the target'],
      [(t) => t.fields.push(field('extra', 'Int32')), 'field extra of the target has no value in the source'],
      [(t) => (t.enableDynamicField = false), 'the source has a dynamic field and the target has none'],
      [(t) => (t.fields[0]!.autoId = true), 'primary key id is autoID on the target'],
    ];
    for (const [change, message] of cases) {
      const actual = structuredClone(expected);
      change(actual);
      expect(appendMismatch(expected, actual)).toContain(message);
    }
  });
});
