import { PermanentError, TransientError } from '../errors';
import { sleep } from './backoff';
import { describeCollection, describeIndexes } from './catalog';
import type { MilvusGateway } from './gateway';
import type { CollectionSpec, IndexSpec } from './spec';
import { assertOk, isStatusOk } from './status';

/** Collection lifecycle on one cluster: create, drop, index, load, count. */

/** Creates the collection (schema, functions, properties, shards, consistency) and its partitions; indexes come later. */
export async function createCollection(cluster: MilvusGateway, db: string, spec: CollectionSpec): Promise<void> {
  await cluster.createCollection(db, spec);
  await createPartitions(cluster, db, spec);
}

/** Creates the spec's partitions that the collection lacks (`_default` exists with every collection). */
export async function createPartitions(cluster: MilvusGateway, db: string, spec: CollectionSpec): Promise<void> {
  for (const partition of (spec.partitions ?? []).filter((p) => p !== '_default')) {
    if (await cluster.hasPartition(db, spec.name, partition)) continue;
    await cluster.createPartition(db, spec.name, partition);
  }
}

/**
 * Points the spec's aliases at the collection. An alias that already names this collection (an
 * earlier try) is left; one that names another collection on the target is a PermanentError.
 */
export async function createAliases(cluster: MilvusGateway, db: string, spec: CollectionSpec): Promise<string[]> {
  const created: string[] = [];
  for (const alias of spec.aliases ?? []) {
    const status = await cluster.createAlias(db, spec.name, alias);
    if (isStatusOk(status)) {
      created.push(alias);
      continue;
    }
    const existing = await cluster.describeAlias(db, alias);
    if (existing === spec.name) continue;
    throw new PermanentError(
      'TARGET_ALIAS_CONFLICT',
      `create alias ${alias} for ${db}.${spec.name}: ${status.reason || status.error_code}${existing ? ` (the alias names ${existing} on the target)` : ''}`,
    );
  }
  return created;
}

/** Drops the aliases that point at the collection (Milvus refuses to drop a collection that has aliases). */
export async function dropAliasesOf(cluster: MilvusGateway, db: string, name: string): Promise<void> {
  const aliases = await cluster.listAliases(db, name).catch(() => null);
  for (const alias of aliases ?? []) await cluster.dropAlias(db, alias);
}

export function dropCollection(cluster: MilvusGateway, db: string, name: string): Promise<void> {
  return cluster.dropCollection(db, name);
}

/** Creates one index. milvus-lite takes AUTOINDEX only on float vectors: it names what it takes instead, which we then use. */
async function createIndex(cluster: MilvusGateway, db: string, collection: string, index: IndexSpec): Promise<void> {
  let status = await cluster.createIndex(db, collection, index);
  const fallback = index.indexType === 'AUTOINDEX' && !isStatusOk(status) ? /only support ([A-Z_]+)/.exec(status.reason ?? '') : null;
  if (fallback) status = await cluster.createIndex(db, collection, { ...index, indexType: fallback[1], params: {} });
  assertOk(status, `create index on ${db}.${collection}.${index.fieldName}`);
}

/** Creates the spec's indexes whose field has none yet; returns how many it created. */
async function createMissingIndexes(cluster: MilvusGateway, db: string, spec: CollectionSpec): Promise<number> {
  const indexed = new Set((await describeIndexes(cluster, db, spec.name)).map((i) => i.fieldName));
  let created = 0;
  for (const index of spec.indexes) {
    if (indexed.has(index.fieldName)) continue;
    await createIndex(cluster, db, spec.name, index);
    created += 1;
  }
  return created;
}

/** Creates the spec's indexes (skipping fields already indexed) and waits until they are built. */
export async function buildIndexes(
  cluster: MilvusGateway,
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
    const pending = (await cluster.describeIndexes(db, spec.name)).filter((d) => wanted.has(d.field_name) && !(d.state === 'Finished' && Number(d.pending_index_rows ?? 0) === 0));
    const failed = pending.find((d) => d.state === 'Failed');
    if (failed) throw new PermanentError('INDEX_BUILD_FAILED', `${what}: ${failed.field_name}: ${failed.index_state_fail_reason}`);
    if (pending.length === 0) return;
    // Let the state machine retry the step rather than hold a Lambda past its limit.
    if (Date.now() > until) throw new TransientError('INDEX_BUILD_PENDING', `${what}: ${pending.map((d) => d.field_name).join(', ')} still building`);
    await sleep(wait);
  }
}

function loadState(cluster: MilvusGateway, db: string, name: string): Promise<string> {
  return cluster.loadState(db, name);
}

/**
 * Query and count see only loaded collections (milvus-lite even answers an empty success for an
 * unloaded one). Indexes the spec's fields that have none (load needs them), then loads.
 */
export async function ensureLoaded(cluster: MilvusGateway, db: string, spec: CollectionSpec, options: { timeoutMs?: number } = {}): Promise<void> {
  // Indexes first, even when loaded: milvus-lite reports a fresh collection as loaded without any index.
  await createMissingIndexes(cluster, db, spec);
  if ((await loadState(cluster, db, spec.name)) === 'LoadStateLoaded') return;
  const what = `load ${db}.${spec.name}`;
  assertOk(await cluster.loadCollection(db, spec.name), what);
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
export async function ensureReadable(cluster: MilvusGateway, db: string, name: string, options: { timeoutMs?: number } = {}): Promise<void> {
  if ((await loadState(cluster, db, name)) === 'LoadStateLoaded') return;
  const what = `load ${db}.${name}`;
  try {
    assertOk(await cluster.loadCollection(db, name), what);
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
export async function countRows(cluster: MilvusGateway, db: string, name: string, options: CountOptions = {}): Promise<number> {
  if (options.readOnly) {
    await ensureReadable(cluster, db, name);
  } else {
    await cluster.flush(db, name);
    if ((await loadState(cluster, db, name)) !== 'LoadStateLoaded') {
      await ensureLoaded(cluster, db, await describeCollection(cluster, db, name));
    }
  }
  return cluster.count(db, name, { partition: options.partition });
}
