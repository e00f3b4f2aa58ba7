import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concurrencyByPartition, MIN_ROWS_PER_SHARD, shardCountFor } from '../../lib/shardPlan';

describe('shardCountFor', () => {
  it('splits a collection below rowsPerShard into the job\'s concurrency', () => {
    // The case: 50,000 rows, rowsPerShard 200,000, 4 shards at once: one shard before.
    expect(shardCountFor(50_000, { rowsPerShard: 200_000, concurrency: 4 })).toBe(4);
    expect(shardCountFor(1_000_000, { rowsPerShard: 200_000, concurrency: 4 })).toBe(5);
    expect(shardCountFor(1_000_000, { rowsPerShard: 200_000, concurrency: 10 })).toBe(10);
  });

  it('makes no shard smaller than the minimum to reach the concurrency', () => {
    expect(MIN_ROWS_PER_SHARD).toBe(10_000);
    expect(shardCountFor(25_000, { rowsPerShard: 200_000, concurrency: 4 })).toBe(2);
    expect(shardCountFor(9_999, { rowsPerShard: 200_000, concurrency: 4 })).toBe(1);
    expect(shardCountFor(0, { rowsPerShard: 200_000, concurrency: 4 })).toBe(1);
    expect(shardCountFor(100, { rowsPerShard: 200_000, concurrency: 4, minRowsPerShard: 10 })).toBe(4);
  });

  it('keeps rowsPerShard and maxShards as before, and one shard without concurrency', () => {
    expect(shardCountFor(1000, { rowsPerShard: 300 })).toBe(4);
    expect(shardCountFor(1000, { rowsPerShard: 7, concurrency: 4 })).toBe(143);
    expect(shardCountFor(40_000, { rowsPerShard: 10, maxShards: 5, concurrency: 40 })).toBe(5);
    expect(shardCountFor(50_000, { rowsPerShard: 200_000 })).toBe(1);
  });

  it('holds for any size: at most maxShards, no shard above rowsPerShard or (for concurrency) below the minimum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000_000 }),
        fc.integer({ min: 1, max: 100_000_000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 100_000 }),
        (rows, rowsPerShard, concurrency, minRowsPerShard) => {
          const n = shardCountFor(rows, { rowsPerShard, concurrency, minRowsPerShard, maxShards: 1000 });
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(1000);
          if (n < 1000) expect(rows / n).toBeLessThanOrEqual(rowsPerShard);
          // More shards than the size asks for only when each still gets the minimum.
          if (n > Math.ceil(rows / rowsPerShard) && n > 1) expect(rows / n).toBeGreaterThanOrEqual(minRowsPerShard);
          // The concurrency is used whenever the rows allow it.
          expect(n).toBeGreaterThanOrEqual(Math.min(concurrency, Math.floor(rows / minRowsPerShard), 1000));
        },
      ),
    );
  });
});

describe('concurrencyByPartition', () => {
  it('shares the collection\'s streams out by rows, at least one each', () => {
    expect(concurrencyByPartition([30_000, 10_000], 4)).toEqual([3, 1]);
    expect(concurrencyByPartition([1_000_000, 10, 0], 4)).toEqual([4, 1, 1]);
    expect(concurrencyByPartition([0, 0], 4)).toEqual([1, 1]);
    expect(concurrencyByPartition(Array.from({ length: 100 }, () => 50_000), 4)).toEqual(Array.from({ length: 100 }, () => 1));
  });
});
