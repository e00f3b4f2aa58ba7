import { MAX_QUERY_ROWS } from './rowSize';

/**
 * The batch size of one stream of the key-range engine (the reads of a shard and the writes they
 * feed), fitted to the distance to the clusters: batches big enough that a call's round trip is at
 * most ROUND_TRIP_SHARE of the time a page keeps the stream busy, and no bigger.
 *
 * What it measures: the round trip ρ (the fastest of a few calls that carry no rows, a cheap metadata
 * call to each cluster) and, per page, its period (the longer of its read and of the caller's time on
 * it: the write, the checkpoint, the sync's merge; they overlap, the read-ahead). A page of n rows
 * takes about ρ + n·b, so b = (period − ρ) / n from the fastest page of the current size, and the
 * rows where ρ is that share are n* = ρ (1 − s) / (s b). The size is a scale 2^level of the start
 * (256 rows and the job's batchBytes: level 0, what the engine used before, tuned on loopback); after
 * SAMPLES_PER_LEVEL pages at a level it goes one level up when n* reaches the next level's rows, one
 * down when n* falls under the previous level's (never under the start), else stays. A refused size
 * (RESOURCE_EXHAUSTED, an insert too large) halves it below the refused page and caps it there for
 * the stream's life; a call that took more than SLOW_CALL_SHARE of its deadline halves it.
 * Within Milvus's limits: 16,384 rows per query, MAX_ADAPTIVE_BATCH_BYTES per page, and the job's
 * fixed row count when it sets one.
 *
 * Why this rule and not a hill climb on throughput (tried first) or AIMD: streams share the servers.
 * A stream that doubles its batch takes a bigger share of a busy server, so its own throughput grows
 * while the copy's falls (milvus-lite's CPU per row grows with the rows per call): a per-stream climb
 * on throughput grew every stream and made the loopback copy 2-4 times slower. The round trip is what
 * a bigger batch amortizes, and it does not grow with a busy server: a busier server makes b bigger
 * and the batches smaller. AIMD grows until a loss signal, and there is none before the limits; its
 * multiplicative decrease is kept for refusals. Decisions count pages, never read a clock, so one
 * sequence of measurements always gives the same sizes (the tests feed it such sequences).
 */

/**
 * The largest page a stream grows to. A stream holds about four pages' worth at once (the read-ahead,
 * the page being written, its insert request, the reply), so four streams at this size stay near
 * 256 MB, inside a copy step's 1,024 MB; and far under Milvus's 64 MB insert and gRPC message limits.
 */
export const MAX_ADAPTIVE_BATCH_BYTES = 16 * 1024 * 1024;
export const DEFAULT_START_ROWS = 256;
/** Pages measured at a level before deciding (the fastest counts). */
export const SAMPLES_PER_LEVEL = 2;
/** The share of a page's time a round trip may take: 1/5 keeps a stream above 80% of its loopback rate. */
const ROUND_TRIP_SHARE = 0.2;
/** A call that took more than this share of its deadline makes the batch smaller. */
const SLOW_CALL_SHARE = 0.25;
/** Round trips remembered (the fastest counts): the distance may change, a route or a busier proxy. */
const ROUND_TRIPS_KEPT = 3;

export interface BatchSizeOptions {
  /** Bytes of the first pages (the job's batchBytes). */
  startBytes: number;
  /** Rows of the first pages; default DEFAULT_START_ROWS. */
  startRows?: number;
  /** At most this many rows, ever (the job's batchRows when it sets one). */
  maxRows?: number;
  /** At most this many bytes per page; default MAX_ADAPTIVE_BATCH_BYTES. */
  maxBytes?: number;
  /** false: the size stays at the start (it still halves on refusals). */
  adaptive?: boolean;
}

/** One page as the stream saw it: how it was sized, what it held, how long it kept the stream busy. */
export interface PageSample {
  /** The level the page was read at (BatchSizeController.level when its read started). */
  level: number;
  rows: number;
  bytes: number;
  /** ms of the read call. */
  readMs: number;
  /** ms the consumer spent on the page (the write, the checkpoint, the sync's merge). */
  holdMs: number;
}

export class BatchSizeController {
  private levelNow = 0;
  /** No level above this (after a refusal). */
  private ceiling = Number.POSITIVE_INFINITY;
  /** Periods (ms) of the pages of the current level since it was set. */
  private periods: number[] = [];
  private rowsSeen: number[] = [];
  private roundTrips: number[] = [];
  private readonly startRows: number;
  private readonly maxRows: number;
  private readonly maxBytes: number;
  private readonly adaptive: boolean;

  constructor(private readonly options: BatchSizeOptions) {
    this.maxRows = Math.max(1, Math.min(options.maxRows ?? MAX_QUERY_ROWS, MAX_QUERY_ROWS));
    this.startRows = Math.max(1, Math.min(options.startRows ?? DEFAULT_START_ROWS, this.maxRows));
    this.maxBytes = Math.max(1, options.maxBytes ?? MAX_ADAPTIVE_BATCH_BYTES);
    this.adaptive = options.adaptive ?? true;
  }

  /** The level of the next read (pages carry it back in their sample). */
  get level(): number {
    return this.levelNow;
  }

  /** The round trip the stream counts with (ms), once measured. */
  get roundTripMs(): number | undefined {
    return this.roundTrips.length ? Math.min(...this.roundTrips) : undefined;
  }

  /** Rows for the next read, for rows of `rowBytes` (the last page's measure). */
  rows(rowBytes: number): number {
    return this.rowsAt(this.levelNow, rowBytes);
  }

  /** Rows at a level: start rows and start bytes scaled by 2^level, within the limits. */
  rowsAt(level: number, rowBytes: number): number {
    const scale = 2 ** level;
    const bytes = Math.min(this.options.startBytes * scale, this.maxBytes);
    return Math.max(1, Math.min(this.maxRows, Math.floor(this.startRows * scale), Math.floor(bytes / Math.max(rowBytes, 1))));
  }

  /** A call without rows took `ms`: the distance to a cluster (the stream keeps the largest of its clusters', the fastest of a few). */
  roundTrip(ms: number): void {
    this.roundTrips.push(Math.max(0, ms));
    if (this.roundTrips.length > ROUND_TRIPS_KEPT) this.roundTrips.shift();
  }

  /** A page was read and consumed. */
  record(sample: PageSample, timeoutMs = Number.POSITIVE_INFINITY): void {
    if (Math.max(sample.readMs, sample.holdMs) > timeoutMs * SLOW_CALL_SHARE) {
      this.move(Math.min(Math.max(this.levelNow, sample.level) - 1, this.ceiling));
      return;
    }
    // Pages read before the last change (the read-ahead) say nothing of this level.
    if (!this.adaptive || sample.level !== this.levelNow || sample.rows === 0) return;
    this.periods.push(Math.max(sample.readMs, sample.holdMs));
    this.rowsSeen.push(sample.rows);
    const rho = this.roundTripMs;
    if (this.periods.length < SAMPLES_PER_LEVEL || rho === undefined) return;
    // The fastest page of this level: the least disturbed by whatever else the servers did meanwhile.
    let best = 0;
    for (let i = 1; i < this.periods.length; i++) if (this.periods[i]! < this.periods[best]!) best = i;
    const rows = this.rowsSeen[best]!;
    const perRow = Math.max((this.periods[best]! - rho) / rows, 1e-6);
    const wanted = (rho * (1 - ROUND_TRIP_SHARE)) / (ROUND_TRIP_SHARE * perRow);
    const rowBytes = sample.bytes / sample.rows;
    const up = this.levelNow + 1;
    if (up <= this.ceiling && wanted >= this.rowsAt(up, rowBytes) && this.rowsAt(up, rowBytes) > rows) this.move(up);
    else if (this.levelNow > 0 && wanted < this.rowsAt(this.levelNow - 1, rowBytes)) this.move(this.levelNow - 1);
    else this.move(this.levelNow);
  }

  /** The target or the source refused a page of `pageRows` rows for its size: below half of it, and never above again. */
  refused(pageRows: number, rowBytes: number): void {
    let level = Math.min(this.levelNow, this.ceiling);
    while (level > -64 && this.rowsAt(level, rowBytes) > Math.max(1, Math.floor(pageRows / 2))) level -= 1;
    this.ceiling = level;
    this.move(level);
  }

  private move(level: number): void {
    this.levelNow = level;
    this.periods = [];
    this.rowsSeen = [];
  }
}
