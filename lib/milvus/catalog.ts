import { promisify, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { PermanentError } from '../errors';
import type { MilvusCluster } from './cluster';
import type { CollectionSpec, DataTypeName, DefaultValue, FieldSpec, FunctionSpec, IndexSpec } from './spec';
import { assertOk, checkedCall, isStatusOk, milvusCall, statusCode, statusOf } from './status';

/** What the catalog calls read from a server: databases, collections, their specs, the version. */

type KeyValue = { key: string; value: string };
const kvRecord = (pairs: KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((pairs ?? []).map(({ key, value }) => [key, String(value)]));

/**
 * A raw gRPC call through the client's pool. The SDK's describeCollection formats the reply before
 * checking the status the way milvus-lite reports it, and throws a TypeError for a missing collection.
 */
export function rawCall<T = any>(client: MilvusClient, method: string, request: object, timeoutMs?: number): Promise<T> {
  const timeout = timeoutMs ?? (client as unknown as { timeout: number }).timeout;
  return promisify(client.channelPool, method, request, timeout);
}

export async function listDatabases(cluster: MilvusCluster): Promise<string[]> {
  const reply = await milvusCall('list databases', () => cluster.client('default').listDatabases());
  // milvus-lite has no databases: the call is UNIMPLEMENTED and answers {}.
  if (!reply || !Array.isArray((reply as { db_names?: unknown }).db_names)) return ['default'];
  assertOk(reply, 'list databases');
  return [...reply.db_names];
}

export async function listCollections(cluster: MilvusCluster, db: string): Promise<string[]> {
  const reply = await checkedCall(`list collections of ${db}`, () => cluster.client(db).showCollections());
  return reply.data.map((c) => c.name).sort();
}

export async function collectionExists(cluster: MilvusCluster, db: string, name: string): Promise<boolean> {
  // hasCollection() says true for a missing collection on milvus-lite (it checks error_code only).
  const reply = await milvusCall(`describe ${db}.${name}`, () => rawCall(cluster.client(db), 'DescribeCollection', { collection_name: name }));
  const status = statusOf(reply);
  if (status && statusCode(status) === 100) return false;
  assertOk(reply, `describe ${db}.${name}`);
  return true;
}

export async function describeCollection(cluster: MilvusCluster, db: string, name: string): Promise<CollectionSpec> {
  const what = `describe ${db}.${name}`;
  const client = cluster.client(db);
  const raw = await milvusCall(what, () => rawCall(client, 'DescribeCollection', { collection_name: name }));
  assertOk(raw, what);
  if (!raw.schema?.fields) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the reply has no schema`);
  const fields: FieldSpec[] = raw.schema.fields.filter((f: any) => !f.is_dynamic).map(normalizeField);
  const primary = fields.find((f) => f.isPrimaryKey);
  if (!primary) throw new PermanentError('UNSUPPORTED_SCHEMA', `${what}: no primary key field`);
  const functions: FunctionSpec[] = (raw.schema.functions ?? []).map(normalizeFunction);
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
    ...(fields.some((f) => f.isPartitionKey) ? {} : await listPartitions(cluster, db, name)),
  };
}

/**
 * The collection's partitions, `_default` first, when there is more than `_default`. A server that
 * cannot list partitions (milvus-lite answers nothing useful) has only `_default`.
 */
async function listPartitions(cluster: MilvusCluster, db: string, name: string): Promise<{ partitions?: string[] }> {
  const what = `list partitions of ${db}.${name}`;
  let reply: any;
  try {
    reply = await milvusCall(what, () => rawCall(cluster.client(db), 'ShowPartitions', { collection_name: name }));
  } catch (error) {
    if (error instanceof PermanentError && error.code === 'MILVUS_UNIMPLEMENTED') return {};
    throw error;
  }
  const status = statusOf(reply);
  if (!status || !isStatusOk(status) || !Array.isArray(reply.partition_names)) return {};
  const names: string[] = reply.partition_names.map(String);
  if (names.every((p) => p === '_default')) return {};
  return { partitions: [...names.filter((p) => p === '_default'), ...names.filter((p) => p !== '_default').sort()] };
}

/** A database's properties; {} where the server has no databases (milvus-lite). */
export async function describeDatabase(cluster: MilvusCluster, db: string): Promise<Record<string, string>> {
  const what = `describe database ${db}`;
  let reply: any;
  try {
    reply = await milvusCall(what, () => rawCall(cluster.client('default'), 'DescribeDatabase', { db_name: db }));
  } catch (error) {
    if (error instanceof PermanentError && error.code === 'MILVUS_UNIMPLEMENTED') return {};
    throw error;
  }
  const status = statusOf(reply);
  if (!status) return {};
  assertOk(reply, what);
  return kvRecord(reply.properties);
}

/** Creates a database with properties; one that exists already (an earlier try) is left as it is. */
export async function ensureDatabase(cluster: MilvusCluster, db: string, properties: () => Promise<Record<string, string>>): Promise<boolean> {
  if ((await listDatabases(cluster)).includes(db)) return false;
  const what = `create database ${db}`;
  const wanted = await properties();
  const reply: any = await milvusCall(what, () =>
    rawCall(cluster.client('default'), 'CreateDatabase', {
      db_name: db,
      properties: Object.entries(wanted).map(([key, value]) => ({ key, value })),
    }),
  );
  if (!statusOf(reply)) throw new PermanentError('TARGET_HAS_NO_DATABASES', `${what}: the target cluster has no databases (milvus-lite?)`);
  if ((await listDatabases(cluster)).includes(db)) return true;
  assertOk(reply, what);
  return true;
}

/** The collection's indexes; [] when it has none (Milvus answers IndexNotExist, code 700). */
export async function describeIndexes(cluster: MilvusCluster, db: string, name: string): Promise<IndexSpec[]> {
  const what = `describe indexes of ${db}.${name}`;
  const reply = await milvusCall(what, () => cluster.client(db).describeIndex({ collection_name: name }));
  const status = statusOf(reply);
  if (status && !isStatusOk(status) && (statusCode(status) === 700 || /index not (exist|found)/i.test(status.reason ?? ''))) return [];
  assertOk(reply, what);
  return (reply.index_descriptions ?? []).map((d: any) => {
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
export async function targetCapabilities(cluster: MilvusCluster): Promise<{ version?: string; allowsExplicitAutoId: boolean }> {
  const reply = await milvusCall('get server version', () => cluster.client('default').getVersion());
  const version = typeof (reply as { version?: unknown })?.version === 'string' ? (reply as { version: string }).version : undefined;
  if (!version) return { allowsExplicitAutoId: false }; // milvus-lite answers {} (UNIMPLEMENTED)
  return { version, allowsExplicitAutoId: versionAtLeast(version, 2, 6) };
}

/** 'v2.6.1', '2.6.0-rc', 'v3.0.0' against major.minor. Unparseable: false. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
