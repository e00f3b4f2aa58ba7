/**
 * How many shards a collection (or one partition of it) is split into: the arithmetic of
 * PlanShards, apart from the Milvus calls that find the boundaries (lib/milvus/shards.ts).
 */

/**
 * The fewest rows a shard is given to use the job's concurrency. Below it a shard costs more than
 * it brings: each one is a boundary query in PlanShards, a shard item and its checkpoints in the
 * job table, a CopyShard invocation (about 9 Step Functions history events, issue 14), and its
 * copy stream starts with small batches. At the rate of one stream measured here (about 4,500
 * rows/s of 768-d vectors over loopback) 10,000 rows are 2 s of copy against a few hundred
 * milliseconds of per-shard overhead on AWS; smaller collections gain little from more streams.
 */
export const MIN_ROWS_PER_SHARD = 10_000;

/** At most this many shards per collection (or partition), whatever the options say. */
const DEFAULT_MAX_SHARDS = 1000;

export interface ShardCountOptions {
  /** Split so that no shard holds more than about this many rows (the job's options.rowsPerShard). */
  rowsPerShard: number;
  /** Shards copied at once (the job's options.shardConcurrency): a collection of any size is split into that many when it has the rows. */
  concurrency?: number;
  /** @default MIN_ROWS_PER_SHARD */
  minRowsPerShard?: number;
  /** @default DEFAULT_MAX_SHARDS */
  maxShards?: number;
}

/**
 * The number of shards for `rows` rows: enough that none exceeds rowsPerShard, and at least
 * `concurrency` so every stream the job may run has work, but never so many that a shard gets
 * fewer than minRowsPerShard rows (unless rowsPerShard itself asks for smaller ones); at least
 * one, at most maxShards.
 */
export function shardCountFor(rows: number, options: ShardCountOptions): number {
  const { rowsPerShard, concurrency = 1, minRowsPerShard = MIN_ROWS_PER_SHARD, maxShards = DEFAULT_MAX_SHARDS } = options;
  const bySize = Math.ceil(rows / rowsPerShard);
  const byConcurrency = Math.min(Math.max(1, Math.floor(concurrency)), Math.floor(rows / Math.max(1, minRowsPerShard)));
  return Math.min(Math.max(1, maxShards), Math.max(1, bySize, byConcurrency));
}

/**
 * The concurrency each partition of a collection plans for: the collection's shares out by rows,
 * so a collection of many partitions is not split into `concurrency` shards per partition (the
 * collection's shards run `concurrency` at once in all). Every partition gets at least one.
 */
export function concurrencyByPartition(rowsByPartition: readonly number[], concurrency: number): number[] {
  const total = rowsByPartition.reduce((sum, rows) => sum + rows, 0);
  if (total === 0) return rowsByPartition.map(() => 1);
  return rowsByPartition.map((rows) => Math.max(1, Math.round((concurrency * rows) / total)));
}
