import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, MAX_QUERY_ROWS, rowsForBudget } from '../../lib/milvus/keyRange/rowSize';

describe('rowsForBudget', () => {
  it('fits the byte budget, then the row cap, then what one query can return', () => {
    expect(rowsForBudget(1024 * 1024, 3088)).toBe(339); // 768-d rows in 1 MiB
    expect(rowsForBudget(1024 * 1024, 3088, 256)).toBe(256);
    expect(rowsForBudget(1024 * 1024, 3088, 1000)).toBe(339);
    expect(rowsForBudget(64 * 1024 * 1024, 8)).toBe(MAX_QUERY_ROWS);
    expect(rowsForBudget(64 * 1024 * 1024, 8, 20_000)).toBe(MAX_QUERY_ROWS);
  });

  it('never asks for more than Milvus takes in one request, nor for fewer than one row', () => {
    expect(rowsForBudget(1024 * 1024 * 1024, 8192)).toBe(Math.floor(MAX_BATCH_BYTES / 8192));
    expect(rowsForBudget(1024, 10 * 1024 * 1024)).toBe(1);
    expect(rowsForBudget(1024, 0)).toBe(1024);
  });
});
