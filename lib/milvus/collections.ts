import { DataType, type FieldType, type FunctionObject, LoadState } from '@zilliz/milvus2-sdk-node';
import { PermanentError, TransientError } from '../errors';
import { describeCollection, describeIndexes } from './catalog';
import type { MilvusCluster } from './cluster';
import type { CollectionSpec, FieldSpec, FunctionSpec, IndexSpec } from './spec';
import { assertOk, checkedCall, isStatusOk, milvusCall, statusCode, statusOf } from './status';

/** Collection lifecycle on one cluster: create, drop, index, load, count. */

const sdkType = (name: string): DataType => {
  const value = DataType[name as keyof typeof DataType];
  if (value === undefined) throw new PermanentError('UNSUPPORTED_SCHEMA', `data type ${name} is not known to the SDK`);
  return value;
};

/** A clean FieldType for createCollection (describe output cannot be sent back). */
export function toFieldType(field: FieldSpec): FieldType {
  const typeParams: Record<string, string> = { ...field.typeParams };
  if (field.dim !== undefined) typeParams.dim = String(field.dim);
  if (field.maxLength !== undefined) typeParams.max_length = String(field.maxLength);
  if (field.maxCapacity !== undefined) typeParams.max_capacity = String(field.maxCapacity);
  const out: FieldType = {
    name: field.name,
    description: field.description,
    data_type: sdkType(field.dataType),
    is_primary_key: field.isPrimaryKey,
    autoID: field.autoId,
    is_partition_key: field.isPartitionKey,
    is_clustering_key: field.isClusteringKey,
    is_function_output: field.isFunctionOutput,
    type_params: typeParams,
  };
  if (field.elementType) out.element_type = sdkType(field.elementType);
  // Sent only when set: milvus-lite refuses any schema that mentions nullable.
  if (field.nullable) out.nullable = true;
  if (field.defaultValue !== undefined) out.default_value = field.defaultValue as number | string;
  return out;
}

function toFunctionObject(fn: FunctionSpec): FunctionObject {
  return {
    name: fn.name,
    description: fn.description,
    type: fn.type as FunctionObject['type'],
    input_field_names: fn.inputFieldNames,
    output_field_names: fn.outputFieldNames,
    params: fn.params,
  };
}

/** Creates the collection (schema, functions, properties, shards, consistency); indexes come later. */
export async function createCollection(cluster: MilvusCluster, db: string, spec: CollectionSpec): Promise<void> {
  const client = cluster.client(db);
  await checkedCall(`create ${db}.${spec.name}`, () =>
    client.createCollection({
      collection_name: spec.name,
      description: spec.description,
      fields: spec.fields.map(toFieldType),
      functions: spec.functions.map(toFunctionObject),
      enable_dynamic_field: spec.enableDynamicField,
      consistency_level: spec.consistencyLevel,
      properties: spec.properties,
      ...(spec.shardsNum ? { shards_num: spec.shardsNum } : {}),
      ...(spec.numPartitions ? { num_partitions: spec.numPartitions } : {}),
    }),
  );
  await createPartitions(cluster, db, spec);
}

/** Creates the spec's partitions that the collection lacks (`_default` exists with every collection). */
export async function createPartitions(cluster: MilvusCluster, db: string, spec: CollectionSpec): Promise<void> {
  for (const partition of (spec.partitions ?? []).filter((p) => p !== '_default')) {
    const what = `create partition ${partition} of ${db}.${spec.name}`;
    const has = await checkedCall(`has partition ${partition} of ${db}.${spec.name}`, () =>
      cluster.client(db).hasPartition({ collection_name: spec.name, partition_name: partition }),
    );
    if (has.value) continue;
    await checkedCall(what, () => cluster.client(db).createPartition({ collection_name: spec.name, partition_name: partition }));
  }
}

/**
 * Points the spec's aliases at the collection. An alias that already names this collection (an
 * earlier try) is left; one that names another collection on the target is a PermanentError.
 */
export async function createAliases(cluster: MilvusCluster, db: string, spec: CollectionSpec): Promise<string[]> {
  const created: string[] = [];
  for (const alias of spec.aliases ?? []) {
    const what = `create alias ${alias} for ${db}.${spec.name}`;
    const reply = await milvusCall(what, () => cluster.client(db).createAlias({ collection_name: spec.name, alias }));
    const status = statusOf(reply);
    if (status && !isStatusOk(status)) {
      const existing: any = await milvusCall(what, () => cluster.client(db).describeAlias({ alias } as never)).catch(() => undefined);
      if (existing?.collection === spec.name) continue;
      throw new PermanentError(
        'TARGET_ALIAS_CONFLICT',
        `${what}: ${status.reason || status.error_code}${existing?.collection ? ` (the alias names ${existing.collection} on the target)` : ''}`,
      );
    }
    assertOk(reply, what);
    created.push(alias);
  }
  return created;
}

/** Drops the aliases that point at the collection (Milvus refuses to drop a collection that has aliases). */
export async function dropAliasesOf(cluster: MilvusCluster, db: string, name: string): Promise<void> {
  const what = `list aliases of ${db}.${name}`;
  const reply: any = await milvusCall(what, () => cluster.client(db).listAliases({ collection_name: name } as never)).catch(() => undefined);
  for (const alias of reply?.aliases ?? []) {
    await checkedCall(`drop alias ${alias} of ${db}.${name}`, () => cluster.client(db).dropAlias({ alias } as never));
  }
}

export async function dropCollection(cluster: MilvusCluster, db: string, name: string): Promise<void> {
  const reply = await milvusCall(`drop ${db}.${name}`, () => cluster.client(db).dropCollection({ collection_name: name }));
  const status = statusOf(reply);
  if (status && statusCode(status) === 100) return;
  assertOk(reply, `drop ${db}.${name}`);
}

/** Creates one index. milvus-lite takes AUTOINDEX only on float vectors: it names what it takes instead, which we then use. */
async function createIndex(cluster: MilvusCluster, db: string, collection: string, index: IndexSpec): Promise<void> {
  const what = `create index on ${db}.${collection}.${index.fieldName}`;
  const send = (indexType: string, params: Record<string, string>) =>
    milvusCall(what, () =>
      cluster.client(db).createIndex({
        collection_name: collection,
        field_name: index.fieldName,
        index_name: index.indexName,
        // Params go as they were described (strings, or a JSON `params` blob) rather than re-encoded.
        extra_params: { index_type: indexType, ...(index.metricType ? { metric_type: index.metricType } : {}), ...params } as never,
      }),
    );
  let reply = await send(index.indexType, index.params);
  const status = statusOf(reply);
  const fallback = index.indexType === 'AUTOINDEX' && status && !isStatusOk(status) ? /only support ([A-Z_]+)/.exec(status.reason ?? '') : null;
  if (fallback) reply = await send(fallback[1], {});
  assertOk(reply, what);
}

/** Creates the spec's indexes whose field has none yet; returns how many it created. */
async function createMissingIndexes(cluster: MilvusCluster, db: string, spec: CollectionSpec): Promise<number> {
  const indexed = new Set((await describeIndexes(cluster, db, spec.name)).map((i) => i.fieldName));
  let created = 0;
  for (const index of spec.indexes) {
    if (indexed.has(index.fieldName)) continue;
    await createIndex(cluster, db, spec.name, index);
    created += 1;
  }
  return created;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the spec's indexes (skipping fields already indexed) and waits until they are built. */
export async function buildIndexes(
  cluster: MilvusCluster,
  db: string,
  spec: CollectionSpec,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  await createMissingIndexes(cluster, db, spec);
  const what = `wait for indexes of ${db}.${spec.name}`;
  const until = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  const wanted = new Set(spec.indexes.map((i) => i.fieldName));
  // From 50 ms, doubling up to pollMs: a small collection's index is built in well under a second,
  // and a fixed 1 s wait was most of the time of each of a job's many small collections.
  for (let wait = 50; ; wait = Math.min(wait * 2, options.pollMs ?? 1_000)) {
    const reply = await checkedCall(what, () => cluster.client(db).describeIndex({ collection_name: spec.name }));
    const pending = (reply.index_descriptions ?? []).filter((d: any) => wanted.has(d.field_name) && !(d.state === 'Finished' && Number(d.pending_index_rows ?? 0) === 0));
    const failed = pending.find((d: any) => d.state === 'Failed');
    if (failed) throw new PermanentError('INDEX_BUILD_FAILED', `${what}: ${failed.field_name}: ${failed.index_state_fail_reason}`);
    if (pending.length === 0) return;
    // Let the state machine retry the step rather than hold a Lambda past its limit.
    if (Date.now() > until) throw new TransientError('INDEX_BUILD_PENDING', `${what}: ${pending.map((d: any) => d.field_name).join(', ')} still building`);
    await sleep(wait);
  }
}

async function loadState(cluster: MilvusCluster, db: string, name: string): Promise<string> {
  const reply = await checkedCall(`load state of ${db}.${name}`, () => cluster.client(db).getLoadState({ collection_name: name }));
  if (reply.state === LoadState.LoadStateNotExist) throw new PermanentError('COLLECTION_NOT_FOUND', `${db}.${name} does not exist`);
  return String(reply.state);
}

/**
 * Query and count see only loaded collections (milvus-lite even answers an empty success for an
 * unloaded one). Indexes the spec's fields that have none (load needs them), then loads.
 */
export async function ensureLoaded(cluster: MilvusCluster, db: string, spec: CollectionSpec, options: { timeoutMs?: number } = {}): Promise<void> {
  // Indexes first, even when loaded: milvus-lite reports a fresh collection as loaded without any index.
  await createMissingIndexes(cluster, db, spec);
  if ((await loadState(cluster, db, spec.name)) === 'LoadStateLoaded') return;
  const what = `load ${db}.${spec.name}`;
  // loadCollectionAsync + our own polling: the SDK's loadCollection checks error_code only.
  await checkedCall(what, () => cluster.client(db).loadCollectionAsync({ collection_name: spec.name }));
  const until = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  while ((await loadState(cluster, db, spec.name)) !== 'LoadStateLoaded') {
    if (Date.now() > until) throw new TransientError('LOAD_PENDING', `${what}: still loading`);
    await sleep(200);
  }
}

/**
 * Loads a collection the service only reads (a source) if it is not loaded, without creating
 * indexes on it: a migration must not change its source. One that cannot be loaded is refused.
 */
export async function ensureReadable(cluster: MilvusCluster, db: string, name: string, options: { timeoutMs?: number } = {}): Promise<void> {
  if ((await loadState(cluster, db, name)) === 'LoadStateLoaded') return;
  const what = `load ${db}.${name}`;
  try {
    await checkedCall(what, () => cluster.client(db).loadCollectionAsync({ collection_name: name }));
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    throw new PermanentError(
      'SOURCE_NOT_LOADABLE',
      `source collection ${db}.${name} is not loaded and cannot be loaded (${error.message}); index its vector fields or load it, then retry`,
      { cause: error },
    );
  }
  const until = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  while ((await loadState(cluster, db, name)) !== 'LoadStateLoaded') {
    if (Date.now() > until) throw new TransientError('LOAD_PENDING', `${what}: still loading`);
    await sleep(200);
  }
}

export interface CountOptions {
  /**
   * A source is only read: no flush, and loaded without creating indexes (ensureReadable). A
   * target is flushed first (best effort: Milvus rate-limits flush) and indexed if it must be.
   */
  readOnly?: boolean;
  /** Count one partition only. */
  partition?: string;
}

/** count(*) with Strong consistency, which sees every acknowledged write. */
export async function countRows(cluster: MilvusCluster, db: string, name: string, options: CountOptions = {}): Promise<number> {
  const client = cluster.client(db);
  if (options.readOnly) {
    await ensureReadable(cluster, db, name);
  } else {
    try {
      await client.flushSync({ collection_names: [name] });
    } catch {
      // Strong consistency below already sees every acknowledged write.
    }
    if ((await loadState(cluster, db, name)) !== 'LoadStateLoaded') {
      await ensureLoaded(cluster, db, await describeCollection(cluster, db, name));
    }
  }
  const reply = await checkedCall(`count ${db}.${name}`, () =>
    client.query({
      collection_name: name,
      filter: '',
      output_fields: ['count(*)'],
      ...(options.partition ? { partition_names: [options.partition] } : {}),
      consistency_level: 'Strong' as never,
    }),
  );
  const value = reply.data?.[0]?.['count(*)'];
  if (value === undefined) throw new PermanentError('MILVUS_UNIMPLEMENTED', `count ${db}.${name}: no count in the reply`);
  return Number(value);
}
