import { MAX_QUERY_ROWS } from './rowSize';

/**
 * The batch size of one stream of the key-range engine (the reads of a shard and the writes they
 * feed), fitted to what the stream measures: a hill climb on throughput in doubling steps.
 *
 * The size is a scale 2^level of the starting size (start rows and start bytes, both scaled), so
 * level 0 is the fixed size the engine used before (256 rows / 1 MiB, tuned on loopback). After
 * SAMPLES_PER_LEVEL pages at a level, its throughput (bytes over the longer of the page's read and
 * the consumer's work on it: the pipeline's period) is compared with the level below:
 * - up a level while each doubling pays at least MIN_GAIN more bytes/s (far clusters: a round trip
 *   per call, so bigger calls pay until the servers are the bound);
 * - otherwise back to the level below, and hold there; every REPROBE_PAGES pages it tries one
 *   level up again, since the conditions change (other streams end, the cluster gets busier);
 * - a refused size (RESOURCE_EXHAUSTED, an insert too large) halves it below the refused page and
 *   never grows past that again; a call that took more than SLOW_CALL_SHARE of its deadline halves it.
 * Within Milvus's limits: 16,384 rows per query, MAX_ADAPTIVE_BATCH_BYTES per page, and the job's
 * fixed row count when it sets one.
 *
 * Why a hill climb and not AIMD: AIMD grows until a loss signal, and there is none here before the
 * limits: on milvus-lite the server's CPU per row grows with the rows per call, so the best size is
 * an interior point that only the throughput shows (the climb finds it, and stays at the start size on
 * loopback), and additive steps of 256 rows would need 60 pages to reach 16,384. The refusals keep
 * AIMD's multiplicative decrease. Decisions are on counts of pages, never on wall-clock timers, so a
 * given sequence of measurements always gives the same sizes (the tests feed it such sequences).
 */

/**
 * The largest page a stream grows to. A stream holds about four pages' worth at once (the read-ahead,
 * the page being written, its insert request, the reply), so four streams at this size stay near
 * 256 MB, inside a copy step's 1,024 MB; and far under Milvus's 64 MB insert and gRPC message limits.
 */
export const MAX_ADAPTIVE_BATCH_BYTES = 16 * 1024 * 1024;

export const DEFAULT_START_ROWS = 256;
/** Pages measured at a level before deciding (their throughputs are averaged). */
export const SAMPLES_PER_LEVEL = 2;
/** A doubling is kept only if it pays this much more throughput (below it, measurement noise). */
export const MIN_GAIN = 0.1;
/** Pages between two probes one level above the held one. */
export const REPROBE_PAGES = 64;
/** A call that took more than this share of its deadline makes the batch smaller. */
export const SLOW_CALL_SHARE = 0.25;

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

type Phase = 'climb' | 'hold';

export class BatchSizeController {
  private levelNow = 0;
  /** No level above this (after a refusal). */
  private ceiling = Number.POSITIVE_INFINITY;
  private phase: Phase = 'climb';
  /** Throughput samples (bytes/ms) of the current level, and the mean of each level measured. */
  private samples: number[] = [];
  private readonly rates = new Map<number, number>();
  private heldPages = 0;
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

  /** A page was read and consumed: feeds the climb. */
  record(sample: PageSample, timeoutMs = Number.POSITIVE_INFINITY): void {
    if (Math.max(sample.readMs, sample.holdMs) > timeoutMs * SLOW_CALL_SHARE) {
      this.down(Math.max(this.levelNow, sample.level) - 1);
      return;
    }
    if (!this.adaptive || sample.level !== this.levelNow || sample.rows === 0) return; // read before the last change
    const period = Math.max(sample.readMs, sample.holdMs, 0.001);
    this.samples.push(sample.bytes / period);
    const rowBytes = sample.bytes / sample.rows;
    if (this.phase === 'hold') {
      this.heldPages += 1;
      if (this.heldPages >= REPROBE_PAGES && this.canGrow(rowBytes)) {
        this.rates.set(this.levelNow, mean(this.samples));
        this.move(this.levelNow + 1, 'climb');
      }
      return;
    }
    if (this.samples.length < SAMPLES_PER_LEVEL) return;
    const rate = mean(this.samples);
    this.rates.set(this.levelNow, rate);
    const below = this.rates.get(this.levelNow - 1);
    if (below !== undefined && rate < below * (1 + MIN_GAIN)) {
      // The doubling did not pay enough: back to the smaller size (less memory, finer checkpoints).
      this.move(this.levelNow - 1, 'hold');
    } else if (this.canGrow(rowBytes)) {
      this.move(this.levelNow + 1, 'climb');
    } else this.move(this.levelNow, 'hold');
  }

  /** The target or the source refused a page of `pageRows` rows for its size: below half of it, and never above again. */
  refused(pageRows: number, rowBytes: number): void {
    let level = Math.min(this.levelNow, this.ceiling);
    while (level > -64 && this.rowsAt(level, rowBytes) > Math.max(1, Math.floor(pageRows / 2))) level -= 1;
    this.ceiling = level;
    this.move(level, 'hold');
  }

  /** Whether a level up would read more rows (not at a limit). */
  private canGrow(rowBytes: number): boolean {
    return this.levelNow + 1 <= this.ceiling && this.rowsAt(this.levelNow + 1, rowBytes) > this.rowsAt(this.levelNow, rowBytes);
  }

  private down(level: number): void {
    this.move(Math.min(level, this.ceiling), 'hold');
  }

  private move(level: number, phase: Phase): void {
    if (level !== this.levelNow || phase !== this.phase) this.samples = [];
    this.levelNow = level;
    this.phase = phase;
    this.heldPages = 0;
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
