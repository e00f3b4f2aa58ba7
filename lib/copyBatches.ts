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
   * Batches of one job: the list of their numbers is the parent execution's largest payload. Past
   * it the batches grow instead (only beyond a million shards or collections with the defaults).
   */
  batches: number;
}

/**
 * 100 shards of up to ~10 CopyShard turns each are about 9,000 history events of a child's 25,000;
 * 100 collection keys of Milvus' longest names are about 55 KB of a child's 256 KB payload; 10,000
 * batch numbers are about 50 KB of the parent's (test/infra/executionLimits.test.ts projects them).
 */
export const COPY_BATCH_LIMITS: CopyBatchLimits = { shards: 100, collections: 100, batches: 10_000 };

/** A collection the copy needs, with the indexes of the shards PlanShards stored for it. */
export interface PlannedCollection {
  collectionKey: string;
  shards: number[];
}

/**
 * Cuts the planned collections into batches, in the order given: each batch is filled up to its
 * limits before the next starts, so batches are equal but for the last.
 */
export function planCopyBatches(collections: readonly PlannedCollection[], limits: CopyBatchLimits = COPY_BATCH_LIMITS): CopyBatch[] {
  const totalShards = collections.reduce((sum, c) => sum + c.shards.length, 0);
  const needed = Math.max(Math.ceil(totalShards / limits.shards), Math.ceil(collections.length / limits.collections));
  // More batches than the parent may list: every batch holds proportionally more.
  const growth = Math.max(1, Math.ceil(needed / limits.batches));
  const maxShards = limits.shards * growth;
  const maxCollections = limits.collections * growth;

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
