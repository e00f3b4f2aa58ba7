import { PermanentError } from '../errors';
import { DEFAULT_BATCH_TIMEOUT_MS, estimateRowBytes, MAX_QUERY_ROWS, rowsForBudget, RowBatchSink, RowBatchSource, type BatchSink, type BatchSource } from './batch';
import type { MilvusCluster } from './cluster';
import { ensureLoaded } from './collections';
import { comparePks, expressibleBound, pkRangeDeleteFilter, pkRangeFilter } from './filter';
import { primaryField, type CollectionSpec } from './spec';
import { checkedCall } from './status';

export interface PkRange {
  lowerExclusive: string | null;
  upperInclusive: string | null;
}

export interface CopyShardArgs {
  source: MilvusCluster;
  sourceDb: string;
  sourceSpec: CollectionSpec;
  target: MilvusCluster;
  targetDb: string;
  targetSpec: CollectionSpec;
  range: PkRange;
  /** Last source PK already written to the target (null: none yet). */
  checkpoint: string | null;
  /** Approximate bytes per batch. */
  batchBytes: number;
  /** Epoch ms: no new batch starts after it. */
  deadline: number;
  /** Persists the checkpoint; called after each successful write, in order. `rows` is that batch's row count. */
  onBatch(progress: { checkpoint: string; rows: number }): Promise<void>;
  /** Replace the row path (e.g. a columnar pass-through); defaults to RowBatchSource/RowBatchSink. */
  io?: { source: BatchSource; sink: BatchSink };
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
  const { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range } = args;
  // Query on an unloaded collection answers nothing (milvus-lite) or fails; range deletes need it loaded too.
  await ensureLoaded(source, sourceDb, sourceSpec);
  await ensureLoaded(target, targetDb, targetSpec);

  const pk = primaryField(sourceSpec);
  const checkpoint = args.checkpoint ?? range.lowerExclusive;
  // Filters cannot hold every key (filter.ts): restart from the greatest expressible bound at or
  // below the checkpoint. The target's rows past that bound are cleared and copied again; those
  // at or below the checkpoint were counted already and are not counted twice.
  let from = checkpoint === null ? null : expressibleBound(pk, checkpoint);
  let recopied = from === null || checkpoint === null || from === checkpoint ? 0 : await rowsBetween(source, sourceDb, sourceSpec, from, checkpoint, range.upperInclusive);
  await clearPastCheckpoint(target, targetDb, targetSpec, from, range.upperInclusive);

  const timeoutMs = args.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
  const reader = args.io?.source ?? new RowBatchSource(source.client(sourceDb), sourceSpec, timeoutMs);
  const writer = args.io?.sink ?? new RowBatchSink(target.client(targetDb), targetSpec, timeoutMs);
  let rowBytes = estimateRowBytes(sourceSpec);
  let rowsCopied = 0;
  /** Rows already read after `from` (non-zero only while the cursor key is not expressible). */
  let skip = 0;
  let high = checkpoint;

  while (Date.now() < args.deadline) {
    if (skip >= MAX_QUERY_ROWS) {
      throw new PermanentError('UNPAGEABLE_KEYS', `more than ${MAX_QUERY_ROWS} primary keys of ${sourceSpec.name} share the prefix ${JSON.stringify(from)} followed by a control character`);
    }
    const limit = Math.min(rowsForBudget(args.batchBytes, rowBytes), MAX_QUERY_ROWS - skip);
    const batch = await reader.read({ afterPk: from, upperInclusive: range.upperInclusive, offset: skip, limit });
    if (batch.rowCount > 0 && batch.lastPk !== null) {
      await writer.write(batch);
      const counted = Math.max(0, batch.rowCount - recopied);
      recopied = Math.max(0, recopied - batch.rowCount);
      rowsCopied += counted;
      if (high === null || comparePks(pk, batch.lastPk, high) > 0) high = batch.lastPk;
      await args.onBatch({ checkpoint: high, rows: counted });
      // Next read: after the batch's last key, or after its expressible bound skipping the rows between.
      const bound = expressibleBound(pk, batch.lastPk);
      if (bound === batch.lastPk) {
        from = bound;
        skip = 0;
      } else if (bound === from) {
        skip += batch.rowCount;
      } else {
        from = bound;
        skip = await rowsBetween(source, sourceDb, sourceSpec, bound, batch.lastPk, range.upperInclusive);
      }
      // Correct the estimate with what this batch measured.
      rowBytes = Math.max(1, batch.bytes / batch.rowCount);
    }
    if (batch.rowCount < limit) return { done: true, rowsCopied };
  }
  return { done: false, rowsCopied };
}

/**
 * Removes what a crashed attempt wrote past the checkpoint. Counted first, so the delete (which
 * milvus-lite refuses for keys containing a quote) runs only when there is something to remove.
 */
async function clearPastCheckpoint(target: MilvusCluster, db: string, spec: CollectionSpec, from: string | null, upperInclusive: string | null): Promise<void> {
  const pk = primaryField(spec);
  const filter = pkRangeDeleteFilter(pk, from, upperInclusive);
  const counted = await checkedCall(`count ${db}.${spec.name} past the checkpoint`, () =>
    target.client(db).query({ collection_name: spec.name, filter, output_fields: ['count(*)'], consistency_level: 'Strong' as never }),
  );
  if (Number(counted.data?.[0]?.['count(*)'] ?? 0) === 0) return;
  await checkedCall(`clear ${db}.${spec.name} past the checkpoint`, () =>
    target.client(db).delete({ collection_name: spec.name, filter, consistency_level: 'Strong' as never }),
  );
}

/** How many keys lie in (from, key] (within the shard), read as keys only. */
async function rowsBetween(cluster: MilvusCluster, db: string, spec: CollectionSpec, from: string, key: string, upperInclusive: string | null): Promise<number> {
  const pk = primaryField(spec);
  const reply = await checkedCall(`read keys of ${db}.${spec.name}`, () =>
    cluster.client(db).query({
      collection_name: spec.name,
      filter: pkRangeFilter(pk, from, upperInclusive),
      output_fields: [pk.name],
      limit: MAX_QUERY_ROWS,
      consistency_level: 'Strong' as never,
    }),
  );
  const keys = (reply.data ?? []).map((row: Record<string, unknown>) => String(row[pk.name]));
  const between = keys.filter((k: string) => comparePks(pk, k, key) <= 0).length;
  if (between >= MAX_QUERY_ROWS) {
    throw new PermanentError('UNPAGEABLE_KEYS', `more than ${MAX_QUERY_ROWS} primary keys of ${spec.name} share the prefix ${JSON.stringify(from)} followed by a control character`);
  }
  return between;
}
