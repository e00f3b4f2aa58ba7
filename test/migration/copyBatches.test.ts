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

  it('splits a collection larger than a batch into equal pieces, in whole rounds of the batches run at once; the batch of its first shards owns it', () => {
    const batches = planCopyBatches([collection('huge', 5_000)], COPY_BATCH_LIMITS);

    // 5,000 shards need 50 batches of 100; 52 make 13 full rounds of 4, of 97 shards each (the last 53).
    expect(batches).toHaveLength(52);
    expect(batches.map((b) => b.pieces.map((p) => [p.collectionKey, p.shards.length, p.owner]))).toEqual(
      batches.map((_, i) => [['huge', i === 51 ? 53 : 97, i === 0]]),
    );
    expect(copyBatchItems(batches[0]!).collections).toEqual(['huge']);
    expect(copyBatchItems(batches[1]!).collections).toEqual([]);
  });

  it('cuts a job of a few collections into as many batches as run at once, about', () => {
    // 3 collections, 8 shards: 3 batches of at most 3 shards and 1 collection; b spans two.
    const few = planCopyBatches([collection('a', 1), collection('b', 6), collection('c', 1)], COPY_BATCH_LIMITS);
    expect(few.map((b) => b.pieces.map((p) => [p.collectionKey, p.shards.length]))).toEqual([[['a', 1]], [['b', 3]], [['b', 3]], [['c', 1]]]);
    expect(planCopyBatches(Array.from({ length: 600 }, (_, i) => collection(`t${i}`, 1)), COPY_BATCH_LIMITS).map((b) => b.pieces.length)).toEqual(Array(8).fill(75));
  });

  it('packs small collections up to the collection limit of a batch', () => {
    const batches = planCopyBatches(Array.from({ length: 10_000 }, (_, i) => collection(`t${i}`, 1)), COPY_BATCH_LIMITS);
    expect(batches).toHaveLength(100);
    expect(batches.every((b) => b.pieces.length === 100 && b.pieces.every((p) => p.owner))).toBe(true);
  });

  it('lets batches grow rather than list more batch numbers than the limit', () => {
    const batches = planCopyBatches(Array.from({ length: 50 }, (_, i) => collection(`c${i}`, 10)), { shards: 10, collections: 10, batches: 20 });
    // 500 shards would be 50 batches of 10; 20 are cut instead, of 25 shards each.
    expect(batches).toHaveLength(20);
    expect(batches.map((b) => b.pieces.reduce((sum, p) => sum + p.shards.length, 0))).toEqual(Array(20).fill(25));
    expect(shardsIn(batches)).toHaveLength(500);
  });

  it('plans nothing for nothing', () => {
    expect(planCopyBatches([])).toEqual([]);
  });
});
