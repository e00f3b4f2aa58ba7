import { PermanentError } from '../errors';
import type { MilvusGateway } from './gateway';
import type { CollectionSpec, DataTypeName, DefaultValue, FieldSpec, FunctionSpec, IndexSpec } from './spec';

/** What the catalog calls read from a server: databases, collections, their specs, the version. */

type KeyValue = { key: string; value: string };
const kvRecord = (pairs: KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((pairs ?? []).map(({ key, value }) => [key, String(value)]));

export function listDatabases(cluster: MilvusGateway): Promise<string[]> {
  return cluster.listDatabases();
}

export function listCollections(cluster: MilvusGateway, db: string): Promise<string[]> {
  return cluster.listCollections(db);
}

export async function collectionExists(cluster: MilvusGateway, db: string, name: string): Promise<boolean> {
  return (await cluster.describeCollection(db, name)) !== null;
}

export async function describeCollection(cluster: MilvusGateway, db: string, name: string): Promise<CollectionSpec> {
  const what = `describe ${db}.${name}`;
  const raw = await cluster.describeCollection(db, name);
  if (!raw) throw new PermanentError('COLLECTION_NOT_FOUND', `${what}: collection not found`);
  const fields: FieldSpec[] = raw.schema.fields.filter((f: any) => !f.is_dynamic).map(normalizeField);
  const primary = fields.find((f) => f.isPrimaryKey);
  if (!primary) throw new PermanentError('UNSUPPORTED_SCHEMA', `${what}: no primary key field`);
  const functions: FunctionSpec[] = (raw.schema.functions ?? []).map(normalizeFunction);
  const partitions = fields.some((f) => f.isPartitionKey) ? null : await cluster.listPartitions(db, name);
  return {
    name,
    description: raw.schema.description ?? '',
    primaryField: primary.name,
    fields,
    functions: [...functions, ...inferMissingFunctions(fields, functions)],
    enableDynamicField: Boolean(raw.schema.enable_dynamic_field),
    ...(Number(raw.shards_num) > 0 ? { shardsNum: Number(raw.shards_num) } : {}),
    ...(fields.some((f) => f.isPartitionKey) && Number(raw.num_partitions) > 0 ? { numPartitions: Number(raw.num_partitions) } : {}),
    consistencyLevel: typeof raw.consistency_level === 'string' ? raw.consistency_level : 'Bounded',
    properties: kvRecord(raw.properties),
    indexes: await describeIndexes(cluster, db, name),
    ...(Array.isArray(raw.aliases) && raw.aliases.length > 0 ? { aliases: [...raw.aliases].map(String).sort() } : {}),
    ...userPartitions(partitions),
  };
}

/**
 * The collection's partitions, `_default` first, when there is more than `_default`. A server that
 * cannot list partitions (milvus-lite) has only `_default`.
 */
function userPartitions(names: string[] | null): { partitions?: string[] } {
  if (!names || names.every((p) => p === '_default')) return {};
  return { partitions: [...names.filter((p) => p === '_default'), ...names.filter((p) => p !== '_default').sort()] };
}

/** A database's properties; {} where the server has no databases (milvus-lite). */
export function describeDatabase(cluster: MilvusGateway, db: string): Promise<Record<string, string>> {
  return cluster.describeDatabase(db);
}

/** Creates a database with properties; one that exists already (an earlier try) is left as it is. */
export async function ensureDatabase(cluster: MilvusGateway, db: string, properties: () => Promise<Record<string, string>>): Promise<boolean> {
  if ((await cluster.listDatabases()).includes(db)) return false;
  await cluster.createDatabase(db, await properties());
  return true;
}

/** The collection's indexes; [] when it has none. */
export async function describeIndexes(cluster: MilvusGateway, db: string, name: string): Promise<IndexSpec[]> {
  return (await cluster.describeIndexes(db, name)).map((d) => {
    const { index_type, metric_type, dim: _dim, ...params } = kvRecord(d.params);
    const index: IndexSpec = { fieldName: d.field_name, indexName: d.index_name || d.field_name, indexType: index_type ?? 'AUTOINDEX', params };
    if (metric_type) index.metricType = metric_type;
    return index;
  });
}

function normalizeField(raw: any): FieldSpec {
  const { dim, max_length, max_capacity, ...typeParams } = kvRecord(raw.type_params);
  const dataType = raw.data_type as DataTypeName;
  const field: FieldSpec = {
    name: raw.name,
    description: raw.description ?? '',
    dataType,
    isPrimaryKey: Boolean(raw.is_primary_key),
    autoId: Boolean(raw.autoID),
    nullable: Boolean(raw.nullable),
    isPartitionKey: Boolean(raw.is_partition_key),
    isClusteringKey: Boolean(raw.is_clustering_key),
    isFunctionOutput: Boolean(raw.is_function_output),
    typeParams,
  };
  if (dim !== undefined) field.dim = Number(dim);
  if (max_length !== undefined) field.maxLength = Number(max_length);
  if (max_capacity !== undefined) field.maxCapacity = Number(max_capacity);
  if (dataType === 'Array' && raw.element_type && raw.element_type !== 'None') field.elementType = raw.element_type;
  const defaultValue = normalizeDefault(raw.default_value, dataType);
  if (defaultValue !== undefined) field.defaultValue = defaultValue;
  return field;
}

/** A ValueField ({data: 'long_data', long_data: '5'}) as a plain value; Int64 as a decimal string. */
function normalizeDefault(raw: any, dataType: DataTypeName): DefaultValue | undefined {
  if (!raw || typeof raw !== 'object' || !raw.data) return undefined;
  const value = raw[raw.data];
  if (value === undefined || value === null) return undefined;
  if (dataType === 'Int64' || raw.data === 'long_data') return String(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8'); // JSON default
  return String(value);
}

function normalizeFunction(raw: any): FunctionSpec {
  return {
    name: raw.name,
    description: raw.description ?? '',
    type: String(raw.type),
    inputFieldNames: [...(raw.input_field_names ?? [])],
    outputFieldNames: [...(raw.output_field_names ?? [])],
    params: kvRecord(raw.params),
  };
}

/**
 * milvus-lite does not describe functions, yet marks their output fields. A sparse output field
 * with exactly one analyzer-enabled VarChar field can only be BM25 over that field; anything else
 * stays without a function (translateSchema warns, the target refuses the schema).
 */
function inferMissingFunctions(fields: FieldSpec[], functions: FunctionSpec[]): FunctionSpec[] {
  const covered = new Set(functions.flatMap((f) => f.outputFieldNames));
  const analyzed = fields.filter((f) => f.dataType === 'VarChar' && f.typeParams.enable_analyzer === 'true');
  return fields
    .filter((f) => f.isFunctionOutput && !covered.has(f.name) && f.dataType === 'SparseFloatVector' && analyzed.length === 1)
    .map((f) => ({
      name: `${f.name}_bm25`,
      description: '',
      type: 'BM25',
      inputFieldNames: [analyzed[0].name],
      outputFieldNames: [f.name],
      params: {},
      inferred: true,
    }));
}

/** Milvus >= 2.6 accepts explicit PKs on autoID collections (property allow_insert_auto_id). */
export async function targetCapabilities(cluster: MilvusGateway): Promise<{ version?: string; allowsExplicitAutoId: boolean }> {
  const { version, explicitAutoIdKeys } = await cluster.capabilities();
  return { ...(version ? { version } : {}), allowsExplicitAutoId: explicitAutoIdKeys };
}
