import { describe, expect, it } from 'vitest';
import { BatchSizeController, MAX_ADAPTIVE_BATCH_BYTES, SAMPLES_PER_LEVEL, type BatchSizeOptions } from '../../lib/milvus/keyRange/batchSize';
import { MAX_QUERY_ROWS } from '../../lib/milvus/keyRange/rowSize';

/**
 * The batch size controller fed modelled streams: a page of n rows costs a round trip plus a
 * per-row time on the server (which grows with n on milvus-lite). No clock: the times are given.
 */

const VECTOR_ROW = 768 * 4 + 16; // bytes of a 768-d row
const MiB = 1024 * 1024;

interface Model {
  /** The round trip of a call without rows, ms. */
  rttMs: number | ((page: number) => number);
  /** ms of the read and of the write of a page of n rows. */
  readMs(n: number, page: number): number;
  writeMs?(n: number, page: number): number;
}

/**
 * Rows of each page of a stream of `pages` pages, as the reader drives it: the round trip timed
 * first and every 32 pages, and a page's sample arriving after the next page was sized (the read-ahead).
 */
function run(options: BatchSizeOptions, model: Model, pages: number, rowBytes = VECTOR_ROW): number[] {
  const c = new BatchSizeController(options);
  const rtt = (i: number) => (typeof model.rttMs === 'number' ? model.rttMs : model.rttMs(i));
  const sizes: number[] = [];
  let pending: { level: number; rows: number } | null = null;
  for (let i = 0; i < pages; i++) {
    if (i % 32 === 0) c.roundTrip(rtt(i));
    const page = { level: c.level, rows: c.rows(rowBytes) };
    sizes.push(page.rows);
    if (pending) c.record({ level: pending.level, rows: pending.rows, bytes: pending.rows * rowBytes, readMs: model.readMs(pending.rows, i - 1), holdMs: (model.writeMs ?? model.readMs)(pending.rows, i - 1) });
    pending = page;
  }
  return sizes;
}

const start: BatchSizeOptions = { startBytes: MiB, adaptive: true };
/** A cluster `rttMs` away whose server spends `usPerRow` per row. */
const far = (rttMs: number, usPerRow = 20): Model => ({ rttMs, readMs: (n) => rttMs + (n * usPerRow) / 1000 });
/** milvus-lite: the CPU per row grows with the rows per call (README: 56 µs a row in pages of 170, 121 at 680). */
const lite = (rttMs: number): Model => ({ rttMs, readMs: (n) => rttMs + (n * (40 + n / 10)) / 1000 });
const top = Math.floor(MAX_ADAPTIVE_BATCH_BYTES / VECTOR_ROW);

describe('BatchSizeController', () => {
  it('starts at 256 rows within the start bytes, as the engine did with fixed batches', () => {
    const c = new BatchSizeController(start);
    expect(c.rows(VECTOR_ROW)).toBe(256);
    expect(c.rows(10 * 1024)).toBe(102); // 1 MiB of 10 KiB rows
    expect(new BatchSizeController({ ...start, startBytes: 64 * 1024 }).rows(VECTOR_ROW)).toBe(21);
  });

  it('grows in doublings until a 20 ms round trip is at most a fifth of a page, and stays there', () => {
    // 20 µs a row: n* = 20 * 0.8 / (0.2 * 0.02) = 4,000 rows; the last level reaching it is 2,048.
    const sizes = run(start, far(20), 40);
    expect(sizes[0]).toBe(256);
    expect([...new Set(sizes)]).toEqual([256, 512, 1024, 2048]);
    expect(sizes.slice(-20)).toEqual(Array(20).fill(2048));
    // The round trip's share of a page at that size: at most a fifth... of the next size up, so under two fifths here.
    expect(20 / far(20).readMs(2048, 0)).toBeLessThan(0.4);
  });

  it('grows as far as the limits allow: the byte limit for big rows, 16,384 rows for small ones', () => {
    expect(run(start, far(200), 60).at(-1)).toBe(top);
    expect(run(start, far(50, 1), 60, 100).at(-1)).toBe(MAX_QUERY_ROWS);
  });

  it('stays at the start on loopback, however busy the servers', () => {
    expect(new Set(run(start, lite(0.2), 40))).toEqual(new Set([256]));
    expect(new Set(run(start, far(0.2), 40))).toEqual(new Set([256]));
    // A busy server: every call waits 30 ms behind the others' (queueing, not distance: the round trip stays 0.5 ms).
    expect(new Set(run(start, { rttMs: 0.5, readMs: (n) => 30 + (n * 60) / 1000 }, 40))).toEqual(new Set([256]));
  });

  it('settles where the per-row cost outweighs the round trip on a far milvus-lite, without swinging between sizes', () => {
    const sizes = run(start, lite(20), 80);
    const settled = sizes.slice(-30);
    expect(new Set(settled).size).toBe(1);
    expect(settled[0]).toBeGreaterThan(256);
    expect(settled[0]).toBeLessThan(4096);
  });

  it('takes the slower of read and write: a far target grows the batches though the source is near', () => {
    expect(run(start, { rttMs: 20, readMs: () => 1, writeMs: (n) => 20 + (n * 20) / 1000 }, 40).at(-1)).toBe(2048);
  });

  it('shrinks again when the distance falls (the round trip is timed again every 32 pages)', () => {
    const model: Model = { rttMs: (page) => (page < 40 ? 20 : 0.2), readMs: (n, page) => (page < 40 ? 20 : 0.2) + (n * 20) / 1000 };
    const sizes = run(start, model, 40 + 32 + 20);
    expect(sizes[39]).toBe(2048);
    expect(sizes.at(-1)).toBe(256);
  });

  it('does not move before it knows the round trip', () => {
    const c = new BatchSizeController(start);
    for (let i = 0; i < 10; i++) c.record({ level: c.level, rows: 256, bytes: 256 * VECTOR_ROW, readMs: 25, holdMs: 25 });
    expect(c.rows(VECTOR_ROW)).toBe(256);
    c.roundTrip(20);
    for (let i = 0; i < SAMPLES_PER_LEVEL; i++) c.record({ level: c.level, rows: 256, bytes: 256 * VECTOR_ROW, readMs: 25, holdMs: 25 });
    expect(c.rows(VECTOR_ROW)).toBe(512);
  });

  it('halves below a refused page and never grows past it again', () => {
    const c = new BatchSizeController(start);
    c.roundTrip(100);
    for (let i = 0; i < 20; i++) c.record({ level: c.level, rows: c.rows(VECTOR_ROW), bytes: c.rows(VECTOR_ROW) * VECTOR_ROW, readMs: 101, holdMs: 101 });
    const refusedRows = c.rows(VECTOR_ROW);
    expect(refusedRows).toBeGreaterThan(1024);
    c.refused(refusedRows, VECTOR_ROW);
    const after = c.rows(VECTOR_ROW);
    expect(after).toBeLessThanOrEqual(refusedRows / 2);
    for (let i = 0; i < 50; i++) c.record({ level: c.level, rows: c.rows(VECTOR_ROW), bytes: c.rows(VECTOR_ROW) * VECTOR_ROW, readMs: 101, holdMs: 101 });
    expect(c.rows(VECTOR_ROW)).toBe(after);
    // Refused again and again: down to one row at worst, never zero.
    for (let i = 0; i < 20; i++) c.refused(c.rows(VECTOR_ROW), VECTOR_ROW);
    expect(c.rows(VECTOR_ROW)).toBe(1);
  });

  it('makes batches smaller after a call that took a quarter of its deadline', () => {
    const c = new BatchSizeController(start);
    const at = c.rows(VECTOR_ROW);
    c.record({ level: c.level, rows: at, bytes: at * VECTOR_ROW, readMs: 31_000, holdMs: 5 }, 120_000);
    expect(c.rows(VECTOR_ROW)).toBe(at / 2);
    c.record({ level: c.level, rows: at / 2, bytes: (at / 2) * VECTOR_ROW, readMs: 5, holdMs: 29_000 }, 120_000);
    expect(c.rows(VECTOR_ROW)).toBe(at / 2); // under a quarter: no change
  });

  it('keeps a fixed row count (the job sets batchRows) and a fixed size when not adaptive', () => {
    expect(new Set(run({ startBytes: MiB, startRows: 7, maxRows: 7, adaptive: true }, far(20), 30))).toEqual(new Set([7]));
    expect(new Set(run({ startBytes: MiB, adaptive: false }, far(20), 30))).toEqual(new Set([256]));
  });

  it('ignores pages read before its last change (the read-ahead), so a decision rests on pages of the size it judges', () => {
    const c = new BatchSizeController(start);
    c.roundTrip(20);
    const sample = (level: number, ms: number) => c.record({ level, rows: 256, bytes: 256 * VECTOR_ROW, readMs: ms, holdMs: ms });
    sample(0, 25);
    sample(0, 25);
    expect(c.level).toBe(1);
    // Pages of level 0 arriving late, however slow, are not counted for level 1.
    sample(0, 1000);
    sample(0, 1000);
    expect(c.level).toBe(1);
  });
});
