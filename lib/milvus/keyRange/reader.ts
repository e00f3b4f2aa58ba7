import { PermanentError } from '../../errors';
import { comparePks, expressibleBound } from '../filter';
import type { FieldSpec } from '../spec';
import type { Page, PageSource } from './pages';
import { DEFAULT_RATE_LIMIT_POLICY, RateLimitBackoff, type RateLimitKind, type RateLimitPolicy } from './rateLimit';
import { BatchSizeController, DEFAULT_START_ROWS } from './batchSize';
import { MAX_BATCH_BYTES, MAX_QUERY_ROWS } from './rowSize';

/**
 * The reading half of the key-range engine, shared by the copy and the sync: the rows of one
 * primary key range (lowerExclusive, upperInclusive] in key order, a page at a time, the next page
 * read while the caller works on the current one.
 *
 * Pages are sized by the stream's BatchSizeController (batchSize.ts): the row size the last page
 * measured (first guess from the schema) and a size that grows while the stream's throughput does
 * (each page's read and the caller's time on it are timed here). Rate limits are waited out
 * (RateLimitBackoff); a RESOURCE_EXHAUSTED read halves the size, and so does shrink(), which the
 * writer asks for when the target refused a request's size.
 *
 * Cursors any key can hold: a page continues after the last key seen. A key no filter can hold
 * (a VarChar with a control character other than tab, filter.ts) cannot be a cursor: the next page
 * then starts at its expressible bound and skips the rows in between by offset. Where a page can
 * drop rows (decoded rows), the skip re-reads SKIP_SLACK rows and drops those at or below the last
 * key seen, and a page whose first row lies past it (rows deleted below the cursor meanwhile, on a
 * live source) is read again without a skip. Columns cannot drop rows: their skip is exact, which
 * holds on a source that does not change under the copy (offline; online, the sync's comparison
 * passes find what a live source changed).
 */

export interface KeyRangeReaderOptions {
  pk: FieldSpec;
  range: { lowerExclusive: string | null; upperInclusive: string | null };
  /** Start after this key (a checkpoint) instead of the range's lower bound. */
  after?: string | null;
  /** Bytes of the first pages (at most MAX_BATCH_BYTES); the stream adapts it. */
  batchBytes: number;
  /** Exactly this many rows per page at most, fixed (the job's batchRows); unset, the stream adapts its rows too. */
  batchRows?: number;
  /** Pages fitted to the stream's throughput (default false: they keep their first size, and still shrink on refusals). */
  adaptive?: boolean;
  /** Deadline of a read or write call, ms: a call that takes a quarter of it makes pages smaller. */
  callTimeoutMs?: number;
  /** Calls without rows to the other clusters the stream's pages go to (the copy's target), timed with the source's own. */
  roundTrips?: Array<() => Promise<unknown>>;
  /** First guess of a row's size (estimateRowBytes). */
  rowBytes: number;
  /** Names the stream in messages: "read shop.items". */
  what: string;
  rateLimit?: RateLimitPolicy;
  onRateLimited?: (kind: RateLimitKind, attempt: number, waitMs: number) => void;
}

/** Pages between two timings of the round trips. */
const ROUND_TRIP_EVERY_PAGES = 32;

/** Rows re-read before a skip offset (pages that can drop rows only). */
const SKIP_SLACK = 64;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value): Settled<T> => ({ ok: true, value }),
    (error): Settled<T> => ({ ok: false, error }),
  );

/** A page read, with what the batch size controller needs to hear of it. */
interface Fetched<P> {
  page: Page<P>;
  more: boolean;
  next: Cursor;
  /** The controller's level when the read was sized, and the read call's time. */
  level: number;
  readMs: number;
}

/** Where a read starts: after `from`, skipping `skip` rows; `lastSeen` is the last key handed out. */
interface Cursor {
  from: string | null;
  skip: number;
  lastSeen: string | null;
}

export class KeyRangeReader<P> {
  private cursor: Cursor;
  /** The cursor of the page handed out last (shrink() reads it again). */
  private previous: Cursor | null = null;
  private ahead: Promise<Settled<Fetched<P>>> | null = null;
  private ended = false;
  private readonly size: BatchSizeController;
  /** The page handed out last, until the caller asks for the next one (then its sample is recorded). */
  private handedOut: { fetched: Fetched<P>; at: number } | null = null;
  private rowBytes: number;
  private readonly backoff: RateLimitBackoff;
  private started = false;
  /** Pages handed out since the round trips were last timed. */
  private sinceRoundTrip = 0;

  constructor(
    private readonly source: PageSource<P>,
    private readonly options: KeyRangeReaderOptions,
  ) {
    const start = options.after !== undefined && options.after !== null ? options.after : options.range.lowerExclusive;
    this.cursor = { from: start, skip: 0, lastSeen: start };
    // Fixed pages without a row count are sized by bytes alone, as before the controller.
    const adaptive = options.adaptive ?? false;
    const rows = options.batchRows ?? (adaptive ? DEFAULT_START_ROWS : MAX_QUERY_ROWS);
    this.size = new BatchSizeController({ startBytes: Math.max(1, Math.min(options.batchBytes, MAX_BATCH_BYTES)), startRows: rows, maxRows: options.batchRows, adaptive });
    this.rowBytes = options.rowBytes;
    this.backoff = new RateLimitBackoff(options.what, options.rateLimit ?? DEFAULT_RATE_LIMIT_POLICY, options.onRateLimited);
  }

  /** Starts reading the first page (the copy and the sync read both sides' first pages at once). */
  start(): void {
    if (!this.started) {
      this.started = true;
      this.ahead = settle(this.startAndFetch());
      this.timeRoundTrips();
    }
  }

  /** The next page in key order, or null past the end of the range. */
  async next(): Promise<Page<P> | null> {
    this.recordHandedOut();
    if (this.ended) return null;
    this.start();
    const settled = await (this.ahead ?? settle(this.fetch(this.cursor)));
    this.ahead = null;
    if (!settled.ok) throw settled.error;
    const { page, more, next } = settled.value;
    this.handedOut = { fetched: settled.value, at: performance.now() };
    if (++this.sinceRoundTrip >= ROUND_TRIP_EVERY_PAGES) this.timeRoundTrips();
    this.previous = this.cursor;
    this.cursor = next;
    if (!more) this.ended = true;
    else this.ahead = settle(this.fetch(next));
    return page.rowCount > 0 ? page : null;
  }

  /** The target refused the last page's size: read the same rows again in half the bytes. */
  async shrink(lastPageBytes: number): Promise<void> {
    this.handedOut = null; // refused: not a measure of the size's throughput
    await this.close();
    this.size.refused(Math.max(1, Math.round(lastPageBytes / this.rowBytes)), this.rowBytes);
    if (this.previous) this.cursor = this.previous;
    this.ended = false;
  }

  /** A read started ahead never outlives the caller. */
  async close(): Promise<void> {
    if (this.ahead) await this.ahead;
    this.ahead = null;
  }

  /**
   * Times a call without rows to every cluster of the stream, at once, in the background (a failed
   * one is not counted: the stream's own calls will meet the fault): the slowest is the distance.
   */
  private timeRoundTrips(): void {
    this.sinceRoundTrip = 0;
    if (!(this.options.adaptive ?? false)) return;
    const probes = [...(this.source.roundTrip ? [() => this.source.roundTrip!()] : []), ...(this.options.roundTrips ?? [])];
    if (probes.length === 0) return;
    const timed = (probe: () => Promise<unknown>) => {
      const started = performance.now();
      return probe().then(() => performance.now() - started);
    };
    void Promise.all(probes.map(timed)).then(
      (ms) => this.size.roundTrip(Math.max(...ms)),
      () => undefined,
    );
  }

  /** The caller is done with the page handed out last: its throughput goes to the batch size controller. */
  private recordHandedOut(): void {
    if (!this.handedOut) return;
    const { fetched, at } = this.handedOut;
    this.handedOut = null;
    this.size.record({ level: fetched.level, rows: fetched.page.rowCount, bytes: fetched.page.bytes, readMs: fetched.readMs, holdMs: performance.now() - at }, this.options.callTimeoutMs);
  }

  private get pk(): FieldSpec {
    return this.options.pk;
  }

  private cmp(a: string, b: string): number {
    return a === b ? 0 : comparePks(this.pk, a, b);
  }

  private unpageable(cursor: Cursor): PermanentError {
    return new PermanentError(
      'UNPAGEABLE_KEYS',
      `${this.options.what}: cannot page past ${JSON.stringify(cursor.lastSeen)}: more than ${MAX_QUERY_ROWS} primary keys share the prefix ${JSON.stringify(cursor.from)} followed by a control character`,
    );
  }

  /** The first page; a start key no filter can hold first finds how many rows to skip after its bound. */
  private async startAndFetch() {
    const { lastSeen } = this.cursor;
    if (lastSeen !== null) {
      const bound = expressibleBound(this.pk, lastSeen);
      if (bound !== lastSeen) {
        const keys = await this.source.keysAfter(bound, this.options.range.upperInclusive, MAX_QUERY_ROWS);
        const skip = keys.filter((k) => this.cmp(k, lastSeen) <= 0).length;
        if (skip >= MAX_QUERY_ROWS) throw this.unpageable({ from: bound, skip, lastSeen });
        this.cursor = { from: bound, skip, lastSeen };
      }
    }
    return this.fetch(this.cursor);
  }

  /** Reads the page at `cursor` and the cursor after it. */
  private async fetch(cursor: Cursor): Promise<Fetched<P>> {
    let noSkip = false;
    for (;;) {
      const { from, skip, lastSeen } = cursor;
      const rewinding = from !== lastSeen && lastSeen !== null;
      // Pages that can drop rows re-read a slack before the skip; columns skip exactly.
      const canDrop = rewinding && this.source.canDropRows;
      const offset = !canDrop ? skip : noSkip ? 0 : Math.max(0, skip - SKIP_SLACK);
      if (offset >= MAX_QUERY_ROWS) throw this.unpageable(cursor);
      const level = this.size.level;
      const limit = Math.max(1, Math.min(MAX_QUERY_ROWS - offset, this.size.rows(this.rowBytes) + (skip - offset)));
      let page: Page<P>;
      const started = performance.now();
      try {
        page = await this.source.read({ afterPk: from, upperInclusive: this.options.range.upperInclusive, offset, limit });
        this.backoff.reset();
      } catch (error) {
        // Rate limited: wait and read again (in half the rows when the result was too large).
        if ((await this.backoff.absorb(error)) === 'resource-exhausted') this.size.refused(limit, this.rowBytes);
        continue;
      }
      const readMs = performance.now() - started;
      const more = page.rowCount >= limit;
      if (page.rowCount > 0) this.rowBytes = Math.max(1, page.bytes / page.rowCount);

      const read = page;
      if (canDrop && page.dropFirst) {
        const keys = page.keys();
        if (offset > 0 && keys.length && this.cmp(keys[0], lastSeen) > 0) {
          // Rows below the cursor vanished meanwhile: the offset may have skipped unseen rows.
          noSkip = true;
          continue;
        }
        const seen = keys.filter((k) => this.cmp(k, lastSeen) <= 0).length;
        if (seen > 0) page = page.dropFirst(seen);
        if (page.rowCount === 0 && more) throw this.unpageable(cursor);
      }
      return { page, more, next: this.after(cursor, read, page, offset), level, readMs };
    }
  }

  /** The cursor after a page: its last key, or its expressible bound skipping the rows between. */
  private after(cursor: Cursor, read: Page<P>, kept: Page<P>, offset: number): Cursor {
    if (kept.rowCount === 0 || kept.lastPk === null) return cursor;
    const seen = kept.lastPk;
    const bound = expressibleBound(this.pk, seen);
    if (bound === seen) return { from: seen, skip: 0, lastSeen: seen };
    // Every row read and the `offset` rows before it lie in (from, seen].
    if (bound === cursor.from) return { from: cursor.from, skip: offset + read.rowCount, lastSeen: seen };
    // A new bound past the old one: the rows in (bound, seen] are all in this page.
    return { from: bound, skip: read.keys().filter((k) => this.cmp(k, bound) > 0).length, lastSeen: seen };
  }
}
