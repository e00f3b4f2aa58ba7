import { describe, expect, it } from 'vitest';
import { BatchSizeController, MAX_ADAPTIVE_BATCH_BYTES, REPROBE_PAGES, SAMPLES_PER_LEVEL, type BatchSizeOptions } from '../../lib/milvus/keyRange/batchSize';
import { MAX_QUERY_ROWS } from '../../lib/milvus/keyRange/rowSize';

/**
 * The batch size controller fed modelled streams: a page of n rows costs a round trip plus a
 * per-row time on the server (which grows with n on milvus-lite). No clock: the times are given.
 */

const VECTOR_ROW = 768 * 4 + 16; // bytes of a 768-d row
const MiB = 1024 * 1024;

interface Model {
  /** ms of the read and of the write of a page of n rows. */
  readMs(n: number, page: number): number;
  writeMs?(n: number, page: number): number;
}

/** Rows of each page of a stream of `pages` pages, with a read-ahead: a page's sample arrives after the next page was sized. */
function run(options: BatchSizeOptions, model: Model, pages: number, rowBytes = VECTOR_ROW): number[] {
  const c = new BatchSizeController(options);
  const sizes: number[] = [];
  let pending: { level: number; rows: number } | null = null;
  for (let i = 0; i < pages; i++) {
    const page = { level: c.level, rows: c.rows(rowBytes) };
    sizes.push(page.rows);
    if (pending) c.record({ level: pending.level, rows: pending.rows, bytes: pending.rows * rowBytes, readMs: model.readMs(pending.rows, i - 1), holdMs: (model.writeMs ?? model.readMs)(pending.rows, i - 1) });
    pending = page;
  }
  return sizes;
}

const start: BatchSizeOptions = { startBytes: MiB, adaptive: true };
/** A call to a cluster `rttMs` away whose server spends `usPerRow` per row. */
const far = (rttMs: number, usPerRow = 20): Model => ({ readMs: (n) => rttMs + (n * usPerRow) / 1000 });
/** milvus-lite on loopback: the CPU per row grows with the rows per call (README: 56 µs a row in pages of 170, 121 at 680). */
const lite = (rttMs: number): Model => ({ readMs: (n) => rttMs + (n * (40 + n / 10)) / 1000 });

describe('BatchSizeController', () => {
  it('starts at 256 rows within the start bytes, as the engine did with fixed batches', () => {
    const c = new BatchSizeController(start);
    expect(c.rows(VECTOR_ROW)).toBe(256);
    expect(c.rows(10 * 1024)).toBe(102); // 1 MiB of 10 KiB rows
    expect(new BatchSizeController({ ...start, startBytes: 64 * 1024 }).rows(VECTOR_ROW)).toBe(21);
  });

  it('doubles the batches while a far cluster makes bigger calls pay, up to the byte limit', () => {
    const sizes = run(start, far(20), 40);
    expect(sizes[0]).toBe(256);
    const top = Math.floor(MAX_ADAPTIVE_BATCH_BYTES / VECTOR_ROW);
    // Doubling steps, each held for its samples: 256, 512, 1,024, 2,048, 4,096, then the byte limit
    // (5,433 rows), which pays under 10% more than 4,096 here: back to 4,096.
    expect([...new Set(sizes)]).toEqual([256, 512, 1024, 2048, 4096, top]);
    expect(Math.max(...sizes)).toBe(top);
    expect(sizes.at(-1)).toBe(4096);
    // Where the round trip weighs more, the byte limit pays and is kept.
    expect(run(start, far(60), 40).at(-1)).toBe(top);
  });

  it('grows small rows to the query limit of 16,384 rows', () => {
    const sizes = run(start, far(20, 1), 60, 100);
    expect(sizes.at(-1)).toBe(MAX_QUERY_ROWS);
    expect(Math.max(...sizes)).toBe(MAX_QUERY_ROWS);
  });

  it('stays at the start on loopback milvus-lite, where bigger calls cost more per row: one probe up, then back', () => {
    const sizes = run(start, lite(0.2), 40);
    expect(sizes.at(-1)).toBe(256);
    expect(sizes.filter((n) => n > 256).length).toBeLessThanOrEqual(SAMPLES_PER_LEVEL + 1);
    expect(Math.max(...sizes)).toBe(512);
  });

  it('finds the best size between the two: far milvus-lite climbs to where the per-row cost outweighs the round trip', () => {
    const model = lite(20);
    const sizes = run(start, model, 60);
    const rate = (n: number) => n / model.readMs(n, 0);
    const best = [256, 512, 1024, 2048, 4096].reduce((a, b) => (rate(b) > rate(a) ? b : a));
    expect(best).toBeGreaterThan(256);
    expect(sizes.at(-1)).toBe(best);
  });

  it('takes the slower of read and write as the period: a slow writer bounds the climb like a slow reader', () => {
    const sizes = run(start, { readMs: () => 1, writeMs: (n) => 20 + (n * 20) / 1000 }, 40);
    expect(sizes.at(-1)).toBe(4096);
    const flat = run(start, { readMs: () => 1, writeMs: (n) => (n * 60) / 1000 }, 40);
    expect(flat.at(-1)).toBe(256); // per-row cost only: doubling never pays 10%
  });

  it('probes one level up again after a while, and climbs when the distance grew', () => {
    // Loopback first (holds at 256), then the cluster moves 20 ms away.
    const model: Model = { readMs: (n, page) => (page < 30 ? lite(0.2) : far(20)).readMs(n, page) };
    const sizes = run(start, model, 30 + REPROBE_PAGES + 40);
    expect(sizes[29]).toBe(256);
    // Held at 256 (the probe of 512 is over by page 8) until REPROBE_PAGES pages after it settled, though the distance grew at page 30.
    expect(sizes.slice(8, 8 + REPROBE_PAGES - 1).filter((n) => n !== 256)).toEqual([]);
    expect(sizes.at(-1)).toBe(4096);
  });

  it('halves below a refused page and never grows past it again', () => {
    const c = new BatchSizeController(start);
    for (let i = 0; i < 12; i++) c.record({ level: c.level, rows: c.rows(VECTOR_ROW), bytes: c.rows(VECTOR_ROW) * VECTOR_ROW, readMs: 20, holdMs: 20 });
    const refusedRows = c.rows(VECTOR_ROW);
    expect(refusedRows).toBeGreaterThan(1024);
    c.refused(refusedRows, VECTOR_ROW);
    const after = c.rows(VECTOR_ROW);
    expect(after).toBeLessThanOrEqual(refusedRows / 2);
    for (let i = 0; i < 3 * REPROBE_PAGES; i++) c.record({ level: c.level, rows: c.rows(VECTOR_ROW), bytes: c.rows(VECTOR_ROW) * VECTOR_ROW, readMs: 20, holdMs: 20 });
    expect(c.rows(VECTOR_ROW)).toBe(after);
    // Refused again at the start size: down to one row at worst, never zero.
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
    const sample = (level: number, readMs: number) => c.record({ level, rows: 256, bytes: 256 * VECTOR_ROW, readMs, holdMs: readMs });
    sample(0, 20);
    sample(0, 20);
    expect(c.level).toBe(1);
    // A page of level 0 arriving late, however fast, is not counted for level 1.
    sample(0, 0.001);
    sample(0, 0.001);
    expect(c.level).toBe(1);
  });
});
