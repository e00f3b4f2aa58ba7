import { describe, expect, it } from 'vitest';
import { ASSUMED_ROWS_PER_SECOND, estimateMigration, PRICES_USD } from '../../lib/migration/estimate';

const plan = (rows: number, action: 'create' | 'append' | 'skip' = 'create') => ({ source: 'db.c', target: 'db.c', action, rows, estimatedBytes: rows * 3_000, warnings: [] });
const options = { rowsPerShard: 200_000, shardConcurrency: 4, batchBytes: 4 * 1024 * 1024 };

describe('estimateMigration', () => {
  it('counts rows, shards and batches of the collections that move, skipped ones aside', () => {
    const e = estimateMigration([plan(1_000_000), plan(50_000, 'append'), plan(9_999_999, 'skip')], options);
    expect(e.rows).toBe(1_050_000);
    expect(e.shards).toBe(5 + 1);
    expect(e.batches).toBe(Math.ceil(3_000_000_000 / options.batchBytes) + Math.ceil(150_000_000 / options.batchBytes));
  });

  it('derives duration from the stated rows/s per shard and cost from the stated prices', () => {
    const e = estimateMigration([plan(800_000)], options);
    // 4 shards at once at ASSUMED_ROWS_PER_SECOND each, plus per-collection and per-job overheads.
    expect(e.durationSeconds).toBe(Math.ceil(800_000 / (ASSUMED_ROWS_PER_SECOND * 4) + 60 + 30));
    // Lambda GB-s dominate: every row read and written once by a 1 GB copy Lambda.
    expect(e.costUsd.lambda).toBeGreaterThanOrEqual(Math.round((800_000 / ASSUMED_ROWS_PER_SECOND) * PRICES_USD.lambdaGbSecond * 10_000) / 10_000);
    expect(e.costUsd.total).toBeCloseTo(e.costUsd.lambda + e.costUsd.stepFunctions + e.costUsd.dynamoDb, 3);
    expect(e.assumptions.join('\n')).toMatch(/rows\/s[\s\S]*\$0\.0000166667\/GB-s[\s\S]*\$0\.025\/1,000 transitions[\s\S]*\$0\.625\/million write request units/);
  });

  it('says zero for nothing to move', () => {
    expect(estimateMigration([], options)).toMatchObject({ rows: 0, shards: 0, costUsd: { dynamoDb: 0 } });
  });
});
