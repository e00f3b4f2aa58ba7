import { DEFAULT_BATCH_TIMEOUT_MS, estimateRowBytes, rowsForBudget, RowBatchSink, RowBatchSource, type BatchSink, type BatchSource } from './batch';
import type { MilvusCluster } from './cluster';
import { ensureLoaded } from './collections';
import { pkRangeDeleteFilter } from './filter';
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

  let cursor = args.checkpoint ?? range.lowerExclusive;
  const targetPk = primaryField(targetSpec);
  await checkedCall(`clear ${targetDb}.${targetSpec.name} past the checkpoint`, () =>
    target.client(targetDb).delete({
      collection_name: targetSpec.name,
      filter: pkRangeDeleteFilter(targetPk, cursor, range.upperInclusive),
      consistency_level: 'Strong' as never,
    }),
  );

  const timeoutMs = args.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
  const reader = args.io?.source ?? new RowBatchSource(source.client(sourceDb), sourceSpec, timeoutMs);
  const writer = args.io?.sink ?? new RowBatchSink(target.client(targetDb), targetSpec, timeoutMs);
  let rowBytes = estimateRowBytes(sourceSpec);
  let rowsCopied = 0;

  while (Date.now() < args.deadline) {
    const limit = rowsForBudget(args.batchBytes, rowBytes);
    const batch = await reader.read({ afterPk: cursor, upperInclusive: range.upperInclusive, limit });
    if (batch.rowCount > 0 && batch.lastPk !== null) {
      await writer.write(batch);
      cursor = batch.lastPk;
      rowsCopied += batch.rowCount;
      await args.onBatch({ checkpoint: cursor, rows: batch.rowCount });
      // Correct the estimate with what this batch measured.
      rowBytes = Math.max(1, batch.bytes / batch.rowCount);
    }
    if (batch.rowCount < limit) return { done: true, rowsCopied };
  }
  return { done: false, rowsCopied };
}
