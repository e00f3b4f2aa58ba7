import type { Row } from '../gateway';
import { DYNAMIC_FIELD, keyOrigin, primaryField } from '../spec';
import type { CollectionSide, Columns, Page, Rows } from './pages';
import { DEFAULT_RATE_LIMIT_POLICY, RateLimitBackoff, type RateLimitKind, type RateLimitPolicy } from './rateLimit';
import { DEFAULT_BATCH_TIMEOUT_MS } from './rowSize';

/**
 * The writing half of the key-range engine, shared by the copy and the sync: pages of columns or
 * rows inserted, rows upserted, keys deleted, into one collection (or partition) of the target.
 * Rate limits are waited out (RateLimitBackoff); a request refused for its size
 * (RESOURCE_EXHAUSTED) is split in halves where the payload can be cut (rows), or handed back to
 * the reader to read again smaller (columns: `insertPage` answers 'shrink').
 *
 * A target whose keys the server generates (keyOrigin 'generated': autoID without
 * allow_insert_auto_id, which a schema mapping may ask for) gets rows without their primary key.
 */

export interface KeyRangeWriterOptions {
  /** Names the stream in messages. */
  what?: string;
  rateLimit?: RateLimitPolicy;
  onRateLimited?: (kind: RateLimitKind, attempt: number, waitMs: number) => void;
}

/** Keys per delete request, and bytes of its expression: far under any server limit. */
export const MAX_DELETE_KEYS = 4_096;
export const MAX_DELETE_EXPR_BYTES = 512 * 1024;

export class KeyRangeWriter {
  private readonly backoff: RateLimitBackoff;
  private readonly deleteBackoff: RateLimitBackoff;
  private readonly timeoutMs: number;
  private readonly name: string;
  /** The target mints its keys: the source's are not sent. */
  readonly discardsKeys: boolean;
  private readonly pkName: string;

  constructor(
    private readonly side: CollectionSide,
    options: KeyRangeWriterOptions = {},
  ) {
    this.name = `${side.db}.${side.spec.name}`;
    const policy = options.rateLimit ?? DEFAULT_RATE_LIMIT_POLICY;
    this.backoff = new RateLimitBackoff(options.what ?? `write to ${this.name}`, policy, options.onRateLimited);
    this.deleteBackoff = new RateLimitBackoff(`delete from ${this.name}`, policy, options.onRateLimited);
    this.timeoutMs = side.timeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
    this.discardsKeys = keyOrigin(side.spec) === 'generated';
    this.pkName = primaryField(side.spec).name;
  }

  /**
   * Inserts a page the reader read (never sent twice: its retry is the step's, from its
   * checkpoint). 'shrink': the target refused the request's size and columns cannot be cut.
   */
  async insertPage(page: Page): Promise<'written' | 'shrink'> {
    if (page.rowCount === 0) return 'written';
    if (Array.isArray(page.payload)) {
      await this.writeRows(page.payload as Rows, 'insert');
      return 'written';
    }
    const { cluster, db, spec, partition } = this.side;
    const payload = page.payload as Columns;
    const fields = this.discardsKeys ? payload.fields.filter((f) => f.isDynamic || f.name !== this.pkName) : payload.fields;
    for (;;) {
      try {
        await cluster.insertColumns(db, { collection: spec.name, fields, rowCount: page.rowCount, partition, timeoutMs: this.timeoutMs });
        this.backoff.reset();
        return 'written';
      } catch (error) {
        if ((await this.backoff.absorb(error)) === 'resource-exhausted') return 'shrink';
      }
    }
  }

  /**
   * Inserts (never sent twice) or upserts (the same rows twice leave the same state) rows; a
   * request refused for its size is split in halves.
   */
  async writeRows(rows: Row[], mode: 'insert' | 'upsert'): Promise<void> {
    if (rows.length === 0) return;
    const { cluster, db, spec, partition } = this.side;
    const sent = this.prepare(rows);
    for (;;) {
      try {
        await cluster.writeRows(db, { collection: spec.name, rows: sent, mode, partition, timeoutMs: this.timeoutMs });
        this.backoff.reset();
        return;
      } catch (error) {
        const kind = await this.backoff.absorb(error);
        if (kind === 'resource-exhausted' && rows.length > 1) {
          const half = Math.ceil(rows.length / 2);
          await this.writeRows(rows.slice(0, half), mode);
          await this.writeRows(rows.slice(half), mode);
          return;
        }
      }
    }
  }

  /** Deletes rows by primary key literals (pkLiteral), in one request; sending it twice deletes nothing more. */
  async deleteKeys(literals: string[]): Promise<void> {
    if (literals.length === 0) return;
    const { cluster, db, spec, partition } = this.side;
    const what = `delete ${literals.length} key(s) from ${this.name}${partition ? ` partition ${partition}` : ''}`;
    for (;;) {
      try {
        await cluster.deleteRows(db, { collection: spec.name, filter: `${this.pkName} in [${literals.join(', ')}]`, partition, timeoutMs: this.timeoutMs, what });
        this.deleteBackoff.reset();
        return;
      } catch (error) {
        await this.deleteBackoff.absorb(error);
      }
    }
  }

  /** A call that carries no rows: its time is the distance to the target (the reader sizes its pages by it, batchSize.ts). */
  roundTrip(): Promise<unknown> {
    return this.side.cluster.loadState(this.side.db, this.side.spec.name);
  }

  /** Rows as this target takes them: without the key it generates, without dynamic keys it has no field for. */
  private prepare(rows: Row[]): Row[] {
    const dropMeta = !this.side.spec.enableDynamicField;
    if (!this.discardsKeys && !dropMeta) return rows;
    if (!this.discardsKeys && !rows.some((r) => DYNAMIC_FIELD in r)) return rows;
    return rows.map((row) => {
      const out = { ...row };
      if (this.discardsKeys) delete out[this.pkName];
      if (dropMeta) delete out[DYNAMIC_FIELD];
      return out;
    });
  }
}
