import * as z from 'zod';

/**
 * Copy batches: how PlanShards cuts a job's copy into pieces of bounded size, so the state machine
 * can fan out over them in child executions (the Distributed Maps of docs/state-machine.md) and no
 * execution's history or payload grows with the number of collections or shards (issue 14).
 *
 * A batch holds at most `shards` shards and `collections` collections. A collection with more
 * shards than a batch holds is split over several batches; the batch that holds its first piece
 * owns it: CreateCollections creates it and IndexCollections indexes it from that batch only,
 * so it is created once before any of its shards is copied and indexed once after all of them.
 */

/** A collection's shards that fall in one batch. */
const CopyBatchPiece = z.object({
  collectionKey: z.string().min(1),
  shards: z.array(z.number().int().nonnegative()),
  /** This batch creates and indexes the collection (it holds the collection's first piece). */
  owner: z.boolean(),
});

export const CopyBatch = z.object({
  number: z.number().int().nonnegative(),
  pieces: z.array(CopyBatchPiece),
});
export type CopyBatch = z.infer<typeof CopyBatch>;

export interface CopyBatchLimits {
  /** Shards of one batch: each is a CopyShard loop in the child execution's history (about 9 events a turn). */
  shards: number;
  /** Collections of one batch: each is a CreateTargetCollection or BuildIndexes in a child's history. */
  collections: number;
  /**
   * Batches of one job, about (the planner may cut up to twice as many): the list of their numbers
   * is the parent execution's largest payload. Past it the batches grow instead (only beyond half
   * a million shards or collections with the defaults).
   */
  batches: number;
  /**
   * Batches the state machine runs at once (its Distributed Maps' MaxConcurrency). A job gets at
   * least that many batches when it has the collections, and a multiple of it, so every round of
   * child executions is full: a batch creates and indexes its collections one at a time.
   * @default 1
   */
  atOnce?: number;
}

/** Copy batches run at once: each Distributed Map's MaxConcurrency (infra/migrationStateMachine.ts). */
export const COPY_BATCHES_AT_ONCE = 4;

/**
 * 100 shards of up to ~10 CopyShard turns each are about 9,200 history events of a child's 25,000;
 * 100 collection keys of Milvus' longest names are about 106 KB of a child's 256 KB payload; 10,000
 * batch numbers are about 50 KB of the parent's (test/infra/executionLimits.test.ts projects them).
 */
export const COPY_BATCH_LIMITS: CopyBatchLimits = { shards: 100, collections: 100, batches: 5_000, atOnce: COPY_BATCHES_AT_ONCE };

/** A collection the copy needs, with the indexes of the shards PlanShards stored for it. */
export interface PlannedCollection {
  collectionKey: string;
  shards: number[];
}

/**
 * Cuts the planned collections into batches of equal size, in the order given: as few as the
 * limits allow, but at least `atOnce` (when there are that many collections) and a multiple of it.
 */
export function planCopyBatches(collections: readonly PlannedCollection[], limits: CopyBatchLimits = COPY_BATCH_LIMITS): CopyBatch[] {
  const totalShards = collections.reduce((sum, c) => sum + c.shards.length, 0);
  const atOnce = Math.max(1, limits.atOnce ?? 1);
  const needed = Math.max(Math.ceil(totalShards / limits.shards), Math.ceil(collections.length / limits.collections), Math.min(atOnce, collections.length));
  const count = Math.min(limits.batches, needed > atOnce ? Math.ceil(needed / atOnce) * atOnce : needed);
  // Past limits.batches a batch holds proportionally more.
  const maxShards = Math.max(1, Math.ceil(totalShards / count));
  const maxCollections = Math.max(1, Math.ceil(collections.length / count));

  const batches: CopyBatch[] = [];
  let current: CopyBatch | undefined;
  let shardsInCurrent = 0;
  const next = (): CopyBatch => {
    current = { number: batches.length, pieces: [] };
    shardsInCurrent = 0;
    batches.push(current);
    return current;
  };
  for (const { collectionKey, shards } of collections) {
    let batch = current && current.pieces.length < maxCollections ? current : next();
    // A collection without shards still has a piece: its batch creates and indexes it.
    if (shards.length === 0) {
      batch.pieces.push({ collectionKey, shards: [], owner: true });
      continue;
    }
    let from = 0;
    while (from < shards.length) {
      if (shardsInCurrent >= maxShards || batch.pieces.length >= maxCollections) batch = next();
      const take = Math.min(maxShards - shardsInCurrent, shards.length - from);
      batch.pieces.push({ collectionKey, shards: shards.slice(from, from + take), owner: from === 0 });
      shardsInCurrent += take;
      from += take;
    }
  }
  return batches;
}

/** What a child execution iterates over: the collections its batch owns and every shard in it. */
export interface CopyBatchItems {
  /** Collections created (CreateCollections) and indexed (IndexCollections) by this batch. */
  collections: string[];
  /** Shards copied by this batch (CopyCollections). */
  shards: Array<{ collectionKey: string; shardIndex: number }>;
}

export function copyBatchItems(batch: CopyBatch): CopyBatchItems {
  return {
    collections: batch.pieces.filter((piece) => piece.owner).map((piece) => piece.collectionKey),
    shards: batch.pieces.flatMap((piece) => piece.shards.map((shardIndex) => ({ collectionKey: piece.collectionKey, shardIndex }))),
  };
}
