import { PermanentError } from '../errors';
import { cloneSpec, hasUserPartitions, isVectorType, type CollectionSpec, type DefaultValue } from './spec';

/**
 * A user's reshaping of one collection's schema on the target (the request's
 * `databases[].collections[].mapping`). Vector fields never change. Plain data.
 */
export interface SchemaMapping {
  /** The target collection's description. */
  description?: string;
  /**
   * The target generates its primary keys (autoID): the source's keys are discarded and never
   * sent. Such a collection is copied as one shard per partition, and a copy step that died after
   * writing past its checkpoint is not resumed (AUTO_ID_RESUME_UNSAFE; run the job again).
   */
  autoId?: boolean;
  /** Per scalar field: nullable and/or a default value (null removes the default). */
  fields?: Record<string, { nullable?: boolean; defaultValue?: DefaultValue | null }>;
  /** A partition key (Int64 or VarChar, not nullable, not the primary key), replacing any other; numPartitions defaults to 16. */
  partitionKey?: { field: string; numPartitions?: number };
  /** Dynamic field on or off; off drops the source's dynamic keys. */
  dynamicField?: boolean;
  /** Shard count of the target collection. */
  shardsNum?: number;
}

const refuse = (collection: string, field: string | undefined, rule: string): never => {
  throw new PermanentError('INVALID_MAPPING', `mapping of collection ${collection}${field ? `, field ${field}` : ''}: ${rule}`);
};

/**
 * The source spec reshaped by a mapping (before translateSchema). Pure. Refuses what the source
 * schema makes impossible, naming the field and the rule; the request schema refused the rest.
 */
export function applyMapping(source: CollectionSpec, mapping: SchemaMapping | undefined): CollectionSpec {
  if (!mapping) return source;
  const spec = cloneSpec(source);
  const name = source.name;
  if (mapping.description !== undefined) spec.description = mapping.description;
  if (mapping.shardsNum !== undefined) spec.shardsNum = mapping.shardsNum;
  if (mapping.dynamicField !== undefined) spec.enableDynamicField = mapping.dynamicField;

  const pk = spec.fields.find((f) => f.isPrimaryKey)!;
  if (mapping.autoId !== undefined) {
    if (mapping.autoId && pk.dataType !== 'Int64') refuse(name, pk.name, `autoID needs an Int64 primary key, this one is ${pk.dataType}`);
    pk.autoId = mapping.autoId;
  }

  for (const [fieldName, change] of Object.entries(mapping.fields ?? {})) {
    const field = spec.fields.find((f) => f.name === fieldName);
    if (!field) refuse(name, fieldName, 'no such field in the source collection');
    if (isVectorType(field!.dataType)) refuse(name, fieldName, 'vector fields are never changed');
    if (field!.isPrimaryKey) refuse(name, fieldName, 'the primary key is never nullable nor defaulted');
    if (field!.isFunctionOutput) refuse(name, fieldName, 'a function output field is never changed');
    if (['JSON', 'Array'].includes(field!.dataType) && change.defaultValue !== undefined && change.defaultValue !== null) {
      refuse(name, fieldName, `a ${field!.dataType} field takes no default value`);
    }
    if (change.nullable !== undefined) field!.nullable = change.nullable;
    if (change.defaultValue === null) delete field!.defaultValue;
    else if (change.defaultValue !== undefined) field!.defaultValue = checkDefault(name, fieldName, field!.dataType, change.defaultValue, field!.maxLength);
    // A null in the source must land somewhere: a field made non-nullable needs a default to take its place.
    if (source.fields.find((f) => f.name === fieldName)!.nullable && !field!.nullable && field!.defaultValue === undefined) {
      refuse(name, fieldName, 'is nullable on the source; made non-nullable it needs a default value for the source nulls');
    }
  }

  if (mapping.partitionKey) {
    const { field: keyName, numPartitions } = mapping.partitionKey;
    const key = spec.fields.find((f) => f.name === keyName);
    if (!key) refuse(name, keyName, 'no such field in the source collection');
    if (key!.dataType !== 'Int64' && key!.dataType !== 'VarChar') refuse(name, keyName, `a partition key must be Int64 or VarChar, this field is ${key!.dataType}`);
    if (key!.isPrimaryKey) refuse(name, keyName, 'the primary key cannot be the partition key');
    if (key!.nullable) refuse(name, keyName, 'a partition key cannot be nullable');
    if (hasUserPartitions(source)) refuse(name, keyName, `the source collection has partitions (${(source.partitions ?? []).join(', ')}); a partition key cannot be added to it`);
    for (const f of spec.fields) f.isPartitionKey = f.name === keyName;
    spec.numPartitions = numPartitions ?? (source.fields.some((f) => f.isPartitionKey) ? source.numPartitions : undefined) ?? 16;
    delete spec.partitions;
  }
  for (const f of spec.fields.filter((x) => x.isPartitionKey && x.nullable)) refuse(name, f.name, 'a partition key cannot be nullable');
  return spec;
}

function checkDefault(collection: string, field: string, dataType: string, value: DefaultValue, maxLength?: number): DefaultValue {
  const wrong = (what: string) => refuse(collection, field, `default value ${JSON.stringify(value)} is not ${what} (the field is ${dataType})`);
  switch (dataType) {
    case 'Bool':
      if (typeof value !== 'boolean') wrong('a boolean');
      return value;
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const bits = { Int8: 8, Int16: 16, Int32: 32 }[dataType];
      const n = Number(value);
      if (typeof value === 'boolean' || !Number.isInteger(n) || n < -(2 ** (bits - 1)) || n >= 2 ** (bits - 1)) wrong(`a whole number of ${bits} bits`);
      return n;
    }
    case 'Int64':
      if (typeof value === 'boolean' || !/^-?\d+$/.test(String(value))) wrong('a whole number');
      return String(value);
    case 'Float':
    case 'Double':
      if (typeof value !== 'number' || !Number.isFinite(value)) wrong('a number');
      return value;
    case 'VarChar':
      if (typeof value !== 'string') wrong('a string');
      if (maxLength !== undefined && Buffer.byteLength(value as string) > maxLength) wrong(`at most ${maxLength} bytes long`);
      return value;
    default:
      return refuse(collection, field, `a ${dataType} field takes no default value`);
  }
}
