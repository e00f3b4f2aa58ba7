import { describe, expect, it } from 'vitest';
import { COPY_BATCH_LIMITS, copyBatchItems, planCopyBatches, type PlannedCollection } from '../../lib/copyBatches';

const collection = (key: string, shards: number): PlannedCollection => ({ collectionKey: key, shards: Array.from({ length: shards }, (_, i) => i) });

/** Every shard of every collection, in the order the batches hold them. */
const shardsIn = (batches: ReturnType<typeof planCopyBatches>) => batches.flatMap((b) => copyBatchItems(b).shards.map((s) => `${s.collectionKey}#${s.shardIndex}`));

describe('planCopyBatches', () => {
  it('holds every shard once, and gives every collection exactly one owner batch', () => {
    const collections = [collection('a', 7), collection('b', 1), collection('c', 2), collection('d', 0)];
    const batches = planCopyBatches(collections, { shards: 3, collections: 2, batches: 100 });

    expect(shardsIn(batches)).toEqual(collections.flatMap((c) => c.shards.map((s) => `${c.collectionKey}#${s}`)));
    expect(batches.flatMap((b) => copyBatchItems(b).collections).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(batches.map((b) => b.number)).toEqual(batches.map((_, i) => i));
    for (const batch of batches) {
      expect(batch.pieces.reduce((sum, p) => sum + p.shards.length, 0)).toBeLessThanOrEqual(3);
      expect(batch.pieces.length).toBeLessThanOrEqual(2);
    }
  });

  it('splits a collection larger than a batch; the batch of its first shards owns it', () => {
    const batches = planCopyBatches([collection('huge', 5_000)], COPY_BATCH_LIMITS);

    expect(batches).toHaveLength(50);
    expect(batches.map((b) => b.pieces.map((p) => [p.collectionKey, p.shards.length, p.owner]))).toEqual(
      batches.map((_, i) => [['huge', 100, i === 0]]),
    );
    expect(copyBatchItems(batches[0]!).collections).toEqual(['huge']);
    expect(copyBatchItems(batches[1]!).collections).toEqual([]);
  });

  it('packs small collections up to the collection limit of a batch', () => {
    const batches = planCopyBatches(Array.from({ length: 10_000 }, (_, i) => collection(`t${i}`, 1)), COPY_BATCH_LIMITS);
    expect(batches).toHaveLength(100);
    expect(batches.every((b) => b.pieces.length === 100 && b.pieces.every((p) => p.owner))).toBe(true);
  });

  it('lets batches grow rather than list more batch numbers than the limit', () => {
    const batches = planCopyBatches(Array.from({ length: 50 }, (_, i) => collection(`c${i}`, 10)), { shards: 10, collections: 10, batches: 20 });
    // 500 shards would be 50 batches of 10; at most 20 are listed, so each holds 30 (ceil(50 / 20) = 3 times 10).
    expect(batches).toHaveLength(17);
    expect(Math.max(...batches.map((b) => b.pieces.reduce((sum, p) => sum + p.shards.length, 0)))).toBe(30);
    expect(shardsIn(batches)).toHaveLength(500);
  });

  it('plans nothing for nothing', () => {
    expect(planCopyBatches([])).toEqual([]);
  });
});
