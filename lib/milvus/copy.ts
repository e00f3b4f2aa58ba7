import { PermanentError } from '../errors';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { DEFAULT_BATCH_TIMEOUT_MS, estimateRowBytes, MAX_QUERY_ROWS, rowsForBudget, RowBatchSink, RowBatchSource, type Batch, type BatchSink, type BatchSource } from './batch';
import { ColumnarBatchSink, ColumnarBatchSource, columnarSupported } from './columnar';
import type { MilvusCluster } from './cluster';
import { ensureLoaded, ensureReadable } from './collections';
import { comparePks, expressibleBound, pkLiteral, pkRangeDeleteFilter, pkRangeFilter } from './filter';
import { primaryField, type CollectionSpec } from './spec';
import { DEFAULT_RATE_LIMIT_POLICY, RateLimitBackoff, type RateLimitKind, type RateLimitPolicy } from './rateLimit';
import { checkedCall } from './status';

export interface PkRange {
  lowerExclusive: string | null;
  upperInclusive: string | null;
}

/** One primary key range of a collection, on both sides: what a copy (here) or a sync (lib/sync/rangeSync.ts) works on. */
export interface RangePair {
  source: MilvusCluster;
  sourceDb: string;
  sourceSpec: CollectionSpec;
  target: MilvusCluster;
  targetDb: string;
  targetSpec: CollectionSpec;
  range: PkRange;
  /**
   * The partition the range lies in: read from it on the source and written into the partition of
   * the same name on the target (absent: the whole collection, rows land where the target puts them).
   */
  partition?: string;
}

export interface CopyShardArgs extends RangePair {
  /**
   * The target collection held rows of its own before the job (options.existingTarget 'append'):
   * on resume only the source's keys past the checkpoint are deleted there, never a key range.
   */
  appendTarget?: boolean;
  /**
   * The target generates its primary keys (a mapping set autoID): the source's keys are not sent,
   * and nothing is cleared on resume (the target's keys say nothing of the source's). The caller
   * makes sure nothing lies past the checkpoint (lib/migration/copyShard.ts counts).
   */
  discardKeys?: boolean;
  /** Last source PK already written to the target (null: none yet). */
  checkpoint: string | null;
  /** Approximate bytes per batch. */
  batchBytes: number;
  /** At most this many rows per read and write (default: as many as batchBytes holds). */
  batchRows?: number;
  /** Epoch ms: no new batch starts after it. */
  deadline: number;
  /** Persists the checkpoint; called after each successful write, in order. `rows` is that batch's row count. */
  onBatch(progress: { checkpoint: string; rows: number }): Promise<void>;
  /** Replace the read/write path entirely (tests, benchmarks). */
  io?: { source: BatchSource; sink: BatchSink };
  /** Without `io`: 'columnar' (default; the pass-through of lib/milvus/columnar.ts, where the clients allow it) or 'rows' (the SDK's row API). */
  path?: 'columnar' | 'rows';
  /** Backoff on rate limits (RateLimit, RESOURCE_EXHAUSTED); defaults to about two minutes in all. */
  rateLimit?: RateLimitPolicy;
  /** Hears every rate-limit refusal that the copy absorbed (logs, tests). */
  onRateLimited?: (kind: RateLimitKind, attempt: number, waitMs: number) => void;
  /** Deadline of each read and write call. */
  batchTimeoutMs?: number;
}

/**
 * Copies the rows of one PK range from `checkpoint` (or the range start) to its end, batch by batch,
 * until done or past the deadline. Safe to rerun from the last persisted checkpoint at any point:
 * it first deletes the target's rows in (checkpoint, upper], i.e. whatever a crashed run wrote
 * past its checkpoint, so the shard ends with no missing and no duplicate rows.
 */
export async function copyShard(args: CopyShardArgs): Promise<{ done: boolean; rowsCopied: number }> {
  const { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition } = args;
  // Query on an unloaded collection answers nothing (milvus-lite) or fails; range deletes need it loaded too.
  await ensureReadable(source, sourceDb, sourceSpec.name);
  await ensureLoaded(target, targetDb, targetSpec);

  const pk = primaryField(sourceSpec);
  const checkpoint = args.checkpoint ?? range.lowerExclusive;
  // Filters cannot hold every key (filter.ts): restart from the greatest expressible bound at or
  // below the checkpoint. The target's rows past that bound are cleared and copied again; those
  // at or below the checkpoint were counted already and are not counted twice.
  let from = checkpoint === null ? null : expressibleBound(pk, checkpoint);
  let landedRows = 0;
  let recopied = from === null || checkpoint === null || from === checkpoint ? 0 : await rowsBetween(source, sourceDb, sourceSpec, from, checkpoint, range.upperInclusive, partition);
  if (args.discardKeys) {
    if (from !== checkpoint) {
      throw new PermanentError('AUTO_ID_RESUME_UNSAFE', `${sourceSpec.name}: cannot resume after ${JSON.stringify(checkpoint)} (a key no filter can hold) on a target that generates its keys; run the job again`);
    }
  } else if (args.appendTarget) await clearSourceKeysPastCheckpoint(args, from);
  else {
    // Batches that landed whole before a crash are kept and counted, not deleted and written
    // again (milvus-lite cannot delete keys holding a quote); anything else past it is cleared.
    const landed = await settlePastCheckpoint(args, from, from === checkpoint);
    if (landed) {
      await args.onBatch({ checkpoint: landed.lastPk, rows: landed.rows });
      landedRows = landed.rows;
      from = landed.lastPk;
    }
  }

  const timeoutMs = args.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
  const { reader, writer } = args.io
    ? { reader: args.io.source, writer: args.io.sink }
    : defaultIo(args.path ?? 'columnar', source.client(sourceDb), sourceSpec, target.client(targetDb), targetSpec, timeoutMs, partition, args.discardKeys);
  const policy = args.rateLimit ?? DEFAULT_RATE_LIMIT_POLICY;
  let rowBytes = estimateRowBytes(sourceSpec);
  /** The byte budget of a batch; halved on every RESOURCE_EXHAUSTED. */
  let budget = args.batchBytes;
  let rowsCopied = landedRows;
  let high = landedRows > 0 ? from : checkpoint;

  /** Where the next read starts: after `from`, skipping `skip` rows (non-zero only while the cursor key is not expressible). */
  interface Cursor {
    from: string | null;
    skip: number;
  }
  type Read = { batch: Batch; limit: number; cursor: Cursor };
  type Settled = { ok: true; read: Read } | { ok: false; error: unknown };

  const readBackoff = new RateLimitBackoff(`read ${sourceSpec.name}`, policy, args.onRateLimited);
  const writeBackoff = new RateLimitBackoff(`write to ${targetSpec.name}`, policy, args.onRateLimited);

  const read = async (cursor: Cursor): Promise<Read> => {
    if (cursor.skip >= MAX_QUERY_ROWS) {
      throw new PermanentError('UNPAGEABLE_KEYS', `more than ${MAX_QUERY_ROWS} primary keys of ${sourceSpec.name} share the prefix ${JSON.stringify(cursor.from)} followed by a control character`);
    }
    for (;;) {
      const limit = Math.min(rowsForBudget(budget, rowBytes, args.batchRows), MAX_QUERY_ROWS - cursor.skip);
      try {
        const batch = await reader.read({ afterPk: cursor.from, upperInclusive: range.upperInclusive, offset: cursor.skip, limit });
        readBackoff.reset();
        return { batch, limit, cursor };
      } catch (error) {
        // Rate limited: wait and read again (in half the bytes when the result was too large).
        if ((await readBackoff.absorb(error)) === 'resource-exhausted') budget = Math.max(1, Math.floor(budget / 2));
      }
    }
  };
  // Reads run ahead of writes by one batch; a read's failure surfaces when its batch is due.
  const start = (cursor: Cursor): Promise<Settled> =>
    read(cursor).then(
      (r): Settled => ({ ok: true, read: r }),
      (error): Settled => ({ ok: false, error }),
    );
  /** The cursor after a batch: its last key, or its expressible bound skipping the rows between. */
  const after = async (cursor: Cursor, lastPk: string, rowCount: number): Promise<Cursor> => {
    const bound = expressibleBound(pk, lastPk);
    if (bound === lastPk) return { from: bound, skip: 0 };
    if (bound === cursor.from) return { from: cursor.from, skip: cursor.skip + rowCount };
    return { from: bound, skip: await rowsBetween(source, sourceDb, sourceSpec, bound, lastPk, range.upperInclusive, partition) };
  };

  let pending: Promise<Settled> | null = null;
  try {
    let cursor: Cursor = { from, skip: 0 };
    while (Date.now() < args.deadline) {
      const settled: Settled = await (pending ?? start(cursor));
      pending = null;
      if (!settled.ok) throw settled.error;
      const { batch, limit } = settled.read;
      const done = batch.rowCount < limit;
      if (batch.rowCount === 0) return { done: true, rowsCopied };
      if (batch.lastPk === null) throw new PermanentError('MILVUS_REPLY', `read ${sourceSpec.name}: ${batch.rowCount} rows without primary keys`);
      // Correct the estimate with what this batch measured, then read the next batch while this one is written.
      rowBytes = Math.max(1, batch.bytes / batch.rowCount);
      const next = await after(settled.read.cursor, batch.lastPk, batch.rowCount);
      if (!done && Date.now() < args.deadline) pending = start(next);

      let written = false;
      let shrink = false;
      while (!written && !shrink) {
        try {
          await writer.write(batch);
          written = true;
          writeBackoff.reset();
        } catch (error) {
          shrink = (await writeBackoff.absorb(error)) === 'resource-exhausted';
        }
      }
      if (!written) {
        // The target refused the request's size or has no room: read the same rows again in half the bytes.
        budget = Math.max(1, Math.floor(Math.min(budget, batch.bytes) / 2));
        if (pending) await pending;
        pending = null;
        cursor = settled.read.cursor;
        continue;
      }
      const counted = Math.max(0, batch.rowCount - recopied);
      recopied = Math.max(0, recopied - batch.rowCount);
      rowsCopied += counted;
      if (high === null || comparePks(pk, batch.lastPk, high) > 0) high = batch.lastPk;
      await args.onBatch({ checkpoint: high, rows: counted });
      cursor = next;
      if (done) return { done: true, rowsCopied };
    }
    return { done: false, rowsCopied };
  } finally {
    // A read started ahead is never left running past the copy.
    if (pending) await pending;
  }
}

function defaultIo(path: 'columnar' | 'rows', sourceClient: MilvusClient, sourceSpec: CollectionSpec, targetClient: MilvusClient, targetSpec: CollectionSpec, timeoutMs: number, partition?: string, discardKeys?: boolean): { reader: BatchSource; writer: BatchSink } {
  if (path === 'columnar' && columnarSupported(sourceClient, targetClient)) {
    return { reader: new ColumnarBatchSource(sourceClient, sourceSpec, timeoutMs, partition), writer: new ColumnarBatchSink(targetClient, targetSpec, timeoutMs, partition, discardKeys) };
  }
  return { reader: new RowBatchSource(sourceClient, sourceSpec, timeoutMs, partition), writer: new RowBatchSink(targetClient, targetSpec, timeoutMs, partition, discardKeys) };
}

/** The primary keys in (from, upper] (within the partition), at most `limit`, read as keys only. */
async function keysInRange(cluster: MilvusCluster, db: string, spec: CollectionSpec, from: string | null, upperInclusive: string | null, limit: number, partition?: string): Promise<string[]> {
  const pk = primaryField(spec);
  const reply = await checkedCall(`read keys of ${db}.${spec.name}`, () =>
    cluster.client(db).query({
      collection_name: spec.name,
      filter: pkRangeFilter(pk, from, upperInclusive),
      ...(partition ? { partition_names: [partition] } : {}),
      output_fields: [pk.name],
      limit,
      consistency_level: 'Strong' as never,
    }),
  );
  return (reply.data ?? []).map((row: Record<string, unknown>) => String(row[pk.name]));
}

/** The target's rows matching `filter` past the checkpoint (count(*) counts a key written twice twice; a query shows it once). */
async function countPastCheckpoint(target: MilvusCluster, db: string, spec: CollectionSpec, filter: string, partition?: string): Promise<number> {
  const counted = await checkedCall(`count ${db}.${spec.name} past the checkpoint`, () =>
    target.client(db).query({ collection_name: spec.name, filter, output_fields: ['count(*)'], ...(partition ? { partition_names: [partition] } : {}), consistency_level: 'Strong' as never }),
  );
  return Number(counted.data?.[0]?.['count(*)'] ?? 0);
}

/**
 * Makes the target's rows past the checkpoint (within the shard) safe to copy over. When they are
 * exactly the source's next rows (the same keys in key order, each once: batches that landed whole
 * before a crash) and `mayKeep`, they stay and their last key and count are returned. Anything
 * else is deleted. Counted first, so the delete (which milvus-lite refuses for keys containing a
 * quote) runs only when there is something to remove. Keys only are compared: the rows came from
 * the same source reads, in an offline window.
 */
async function settlePastCheckpoint(
  { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition }: RangePair,
  from: string | null,
  mayKeep: boolean,
): Promise<{ lastPk: string; rows: number } | null> {
  const { upperInclusive } = range;
  const pk = primaryField(targetSpec);
  const filter = pkRangeDeleteFilter(pk, from, upperInclusive);
  // Within the shard's partition only: another partition's rows in the same key range belong to other shards.
  const held = await countPastCheckpoint(target, targetDb, targetSpec, filter, partition);
  if (held === 0) return null;
  if (mayKeep && held < MAX_QUERY_ROWS && primaryField(sourceSpec).name === pk.name) {
    const byKey = (a: string, b: string) => comparePks(pk, a, b);
    const written = (await keysInRange(target, targetDb, targetSpec, from, upperInclusive, held, partition)).sort(byKey);
    const expected = (await keysInRange(source, sourceDb, sourceSpec, from, upperInclusive, held, partition)).sort(byKey);
    const lastPk = written[written.length - 1] as string;
    const whole = written.length === held && expected.length === held && expected.every((k, i) => k === written[i]);
    if (whole && expressibleBound(pk, lastPk) === lastPk) return { lastPk, rows: held };
  }
  await checkedCall(`clear ${targetDb}.${targetSpec.name} past the checkpoint`, () =>
    target.client(targetDb).delete({ collection_name: targetSpec.name, filter, ...(partition ? { partition_name: partition } : {}), consistency_level: 'Strong' as never }),
  );
  return null;
}

/**
 * The append variant of settlePastCheckpoint: the target's own rows may lie in the key range, so
 * only the keys the source holds in (from, upper] are deleted there, a page of keys at a time.
 */
async function clearSourceKeysPastCheckpoint({ source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition }: RangePair, from: string | null): Promise<void> {
  const { upperInclusive } = range;
  const pk = primaryField(sourceSpec);
  let cursor = from;
  for (;;) {
    const keys = await keysInRange(source, sourceDb, sourceSpec, cursor, upperInclusive, MAX_QUERY_ROWS, partition);
    if (keys.length === 0) return;
    const filter = `${pk.name} in [${keys.map((k: string) => pkLiteral(pk, k)).join(', ')}]`;
    if ((await countPastCheckpoint(target, targetDb, targetSpec, filter, partition)) > 0) {
      await checkedCall(`clear ${targetDb}.${targetSpec.name} past the checkpoint`, () =>
        target.client(targetDb).delete({ collection_name: targetSpec.name, filter, ...(partition ? { partition_name: partition } : {}), consistency_level: 'Strong' as never }),
      );
    }
    if (keys.length < MAX_QUERY_ROWS) return;
    cursor = keys[keys.length - 1] as string; // pkLiteral above refused any key a filter cannot hold
  }
}

/** How many keys lie in (from, key] (within the shard), read as keys only. */
async function rowsBetween(cluster: MilvusCluster, db: string, spec: CollectionSpec, from: string, key: string, upperInclusive: string | null, partition?: string): Promise<number> {
  const pk = primaryField(spec);
  const keys = await keysInRange(cluster, db, spec, from, upperInclusive, MAX_QUERY_ROWS, partition);
  const between = keys.filter((k: string) => comparePks(pk, k, key) <= 0).length;
  if (between >= MAX_QUERY_ROWS) {
    throw new PermanentError('UNPAGEABLE_KEYS', `more than ${MAX_QUERY_ROWS} primary keys of ${spec.name} share the prefix ${JSON.stringify(from)} followed by a control character`);
  }
  return between;
}
