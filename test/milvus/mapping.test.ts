import { describe, expect, it } from 'vitest';
import { applyMapping, type CollectionSpec, type DataTypeName, type FieldSpec, type SchemaMapping } from '../../lib/milvus';

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

const spec = (extra: Partial<CollectionSpec> = {}): CollectionSpec => ({
  name: 'books',
  description: 'src',
  primaryField: 'id',
  fields: [
    field('id', 'Int64', { isPrimaryKey: true }),
    field('vec', 'FloatVector', { dim: 4 }),
    field('title', 'VarChar', { maxLength: 8 }),
    field('year', 'Int32', { nullable: true }),
    field('score', 'Float'),
    field('meta', 'JSON'),
    field('tenant', 'Int64'),
    field('sparse', 'SparseFloatVector', { isFunctionOutput: true }),
  ],
  functions: [],
  enableDynamicField: true,
  shardsNum: 1,
  consistencyLevel: 'Bounded',
  properties: {},
  indexes: [],
  ...extra,
});

const refusal = (mapping: SchemaMapping, source = spec()): string => {
  try {
    applyMapping(source, mapping);
  } catch (error) {
    expect(error).toMatchObject({ code: 'INVALID_MAPPING' });
    return (error as Error).message;
  }
  throw new Error('the mapping was accepted');
};

describe('applyMapping', () => {
  it('applies description, autoID, nullable and defaults, partition key, dynamic field and shard count without touching its input', () => {
    const source = spec();
    const before = structuredClone(source);
    const out = applyMapping(source, {
      description: 'target',
      autoId: true,
      fields: { title: { nullable: true, defaultValue: 'n/a' }, score: { defaultValue: 0.5 }, year: { nullable: false, defaultValue: 1970 } },
      partitionKey: { field: 'tenant', numPartitions: 32 },
      dynamicField: false,
      shardsNum: 4,
    });
    expect(source).toEqual(before);
    expect(out.description).toBe('target');
    expect(out.fields[0]).toMatchObject({ name: 'id', autoId: true });
    expect(out.fields.find((f) => f.name === 'title')).toMatchObject({ nullable: true, defaultValue: 'n/a' });
    expect(out.fields.find((f) => f.name === 'score')).toMatchObject({ nullable: false, defaultValue: 0.5 });
    expect(out.fields.find((f) => f.name === 'year')).toMatchObject({ nullable: false, defaultValue: 1970 });
    expect(out.fields.filter((f) => f.isPartitionKey).map((f) => f.name)).toEqual(['tenant']);
    expect(out.numPartitions).toBe(32);
    expect(out.enableDynamicField).toBe(false);
    expect(out.shardsNum).toBe(4);
    expect(applyMapping(source, undefined)).toBe(source);
  });

  it('moves a partition key (one per collection) and keeps the partition count by default', () => {
    const source = spec({ numPartitions: 64 });
    source.fields.push(field('region', 'VarChar', { maxLength: 4, isPartitionKey: true }));
    const out = applyMapping(source, { partitionKey: { field: 'tenant' } });
    expect(out.fields.filter((f) => f.isPartitionKey).map((f) => f.name)).toEqual(['tenant']);
    expect(out.numPartitions).toBe(64);
    expect(applyMapping(spec(), { partitionKey: { field: 'title' } }).numPartitions).toBe(16);
  });

  it.each<[string, SchemaMapping, string]>([
    ['a missing field', { fields: { nope: { nullable: true } } }, 'field nope: no such field in the source collection'],
    ['a vector field', { fields: { vec: { nullable: true } } }, 'field vec: vector fields are never changed'],
    ['the primary key', { fields: { id: { nullable: true } } }, 'field id: the primary key is never nullable nor defaulted'],
    ['a function output', { fields: { sparse: { nullable: true } } }, 'field sparse'],
    ['a JSON default', { fields: { meta: { defaultValue: '{}' } } }, 'field meta: a JSON field takes no default value'],
    ['a default of the wrong type', { fields: { score: { defaultValue: 'high' } } }, 'field score: default value "high" is not a number'],
    ['an Int32 default out of range', { fields: { year: { defaultValue: 2 ** 31 } } }, 'is not a whole number of 32 bits'],
    ['a VarChar default too long', { fields: { title: { defaultValue: 'much too long' } } }, 'is not at most 8 bytes long'],
    ['a nullable field made non-nullable without a default', { fields: { year: { nullable: false } } }, 'field year: is nullable on the source; made non-nullable it needs a default value'],
    ['a Float partition key', { partitionKey: { field: 'score' } }, 'field score: a partition key must be Int64 or VarChar, this field is Float'],
    ['the primary key as partition key', { partitionKey: { field: 'id' } }, 'field id: the primary key cannot be the partition key'],
    ['a nullable partition key', { partitionKey: { field: 'tenant' } }, 'field tenant: a partition key cannot be nullable'],
    ['a partition key made nullable', { partitionKey: { field: 'tenant' }, fields: { tenant: { nullable: true } } }, 'field tenant: a partition key cannot be nullable'],
    ['autoID on a VarChar key', { autoId: true }, 'autoID needs an Int64 primary key'],
  ])('refuses %s, naming the field and the rule', (_what, mapping, message) => {
    const source = spec();
    if (message.includes('autoID needs')) source.fields[0] = field('id', 'VarChar', { isPrimaryKey: true, maxLength: 10 });
    if (_what === 'a nullable partition key') source.fields.find((f) => f.name === 'tenant')!.nullable = true;
    expect(refusal(mapping, source)).toContain(message);
  });

  it('refuses a partition key on a collection that has partitions', () => {
    expect(refusal({ partitionKey: { field: 'tenant' } }, spec({ partitions: ['_default', 'p1'] }))).toContain('the source collection has partitions (_default, p1)');
  });
});
