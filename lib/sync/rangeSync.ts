import { PermanentError } from '../errors';
import type { CollectionSpec, MilvusCluster, PkRange, RangePair } from '../milvus';
import { DEFAULT_BATCH_TIMEOUT_MS, estimateRowBytes, MAX_BATCH_BYTES, MAX_QUERY_ROWS, rowsForBudget, RowBatchSource, writeTransformers } from '../milvus/batch';
import { ensureLoaded, ensureReadable } from '../milvus/collections';
import { comparePks, expressibleBound, pkLiteral } from '../milvus/filter';
import { DEFAULT_RATE_LIMIT_POLICY, RateLimitBackoff } from '../milvus/rateLimit';
import { copiedFields, DYNAMIC_FIELD, primaryField, type FieldSpec } from '../milvus/spec';
import { ALLOW_INSERT_AUTO_ID } from '../milvus/translate';
import { assertOk, milvusCall } from '../milvus/status';
import { rowHasher, RowDigest, type Row } from './rowDigest';
import { CycleAbandoned } from './strategy';

/**
 * The row-level sync of one primary key range (the online mode's snapshot diff): reads the
 * source's rows and the target's rows of the range in PK order (Strong consistency, pages sized
 * by bytes), merge-joins the two sorted streams by primary key, and makes the target equal to the
 * source: rows only on the source are written, rows whose content differs are replaced, rows only
 * on the target are deleted. Every read starts after the call starts, so when it returns every
 * change committed on the source before the call is on the target.
 *
 * Memory: a page and a read-ahead page per side, plus the write buffer (about batchBytes each).
 *
 * Writes: an explicit-key target gets `upsert` for new and changed rows (no moment where a row is
 * missing) and `delete pk in [...]` for removed keys. An autoID target that keeps the source's
 * keys (allow_insert_auto_id, Milvus 2.6+) would mint new keys on upsert: changed rows are deleted
 * then inserted. A target that generates its own keys cannot be synced by key and is refused.
 *
 * Limits: keys with control characters other than tab cannot be written in a filter (filter.ts),
 * so such keys cannot be deleted; they are left, every other change is applied, and the call then
 * fails with PermanentError INEXPRESSIBLE_KEY. milvus-lite also refuses upserts and deletes of keys
 * containing a single quote (the whole request fails).
 */

export interface RangeSyncArgs extends RangePair {
  /** Approximate bytes per read page and per write request. */
  batchBytes: number;
  /** At most this many rows per read page and per write request. */
  batchRows?: number;
  /** false: compare only and write nothing (the cutover's verification); the counts then say what differs. */
  apply: boolean;
  /** Asked every few pages' worth of rows: true gives the range up (CycleAbandoned); writes already sent stay. */
  abandon?: () => Promise<boolean>;
}

export interface RangeSyncResult {
  /** Source rows read. */
  rowsCompared: number;
  /** Rows only on the source / rows whose content differs / rows only on the target (written when apply, found otherwise). */
  inserted: number;
  updated: number;
  deleted: number;
  /** Order-independent digest (hex) of the source rows read: what the target holds after an applied sync of the range. */
  sourceDigest: string;
  /** The same digest over the target's rows as read, before any change. */
  targetDigestBefore: string;
  /** Up to 10 primary keys that differed, for messages. */
  sampleKeys: string[];
}

const SAMPLE_KEYS = 10;
/** Rows merged between two questions to `abandon`. */
const ABANDON_CHECK_ROWS = 1_000;
/** Rows re-read before a skip offset, so that a few rows deleted meanwhile below the cursor do not make the page miss rows. */
const SKIP_SLACK = 64;
/** Keys per delete request (the expression stays far under any limit). */
const MAX_DELETE_KEYS = 4_096;
const MAX_DELETE_EXPR_BYTES = 512 * 1024;

export async function syncRange(args: RangeSyncArgs): Promise<RangeSyncResult> {
  const { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition, apply } = args;
  const pk = primaryField(targetSpec);
  const targetName = `${targetDb}.${targetSpec.name}`;
  if (primaryField(sourceSpec).name !== pk.name || primaryField(sourceSpec).dataType !== pk.dataType) {
    throw new PermanentError('SYNC_UNSUPPORTED', `${targetName}: the primary key differs from the source's (${primaryField(sourceSpec).name}); rows cannot be matched by key`);
  }
  const autoIdTarget = pk.autoId;
  if (autoIdTarget && targetSpec.properties[ALLOW_INSERT_AUTO_ID] !== 'true') {
    throw new PermanentError('SYNC_UNSUPPORTED', `${targetName} generates its own primary keys (autoID without ${ALLOW_INSERT_AUTO_ID}): its rows cannot be matched with the source's by key`);
  }

  // Query on an unloaded collection answers nothing (milvus-lite): load both; the source is never changed.
  await ensureReadable(source, sourceDb, sourceSpec.name);
  await ensureLoaded(target, targetDb, targetSpec);

  // The source's dynamic keys are read only when the target keeps them (a mapping may turn them off).
  const readSpec: CollectionSpec = { ...sourceSpec, enableDynamicField: sourceSpec.enableDynamicField && targetSpec.enableDynamicField };
  const budget = Math.max(1, Math.min(args.batchBytes, MAX_BATCH_BYTES));
  const sourceRows = new KeyOrderedRows(new RowBatchSource(source.client(sourceDb), readSpec, DEFAULT_BATCH_TIMEOUT_MS, partition), readSpec, pk, range, budget, args.batchRows);
  const targetRows = new KeyOrderedRows(new RowBatchSource(target.client(targetDb), targetSpec, DEFAULT_BATCH_TIMEOUT_MS, partition), targetSpec, pk, range, budget, args.batchRows);
  const writer = apply ? new TargetWriter(target, targetDb, targetSpec, pk, partition, budget, autoIdTarget, args.batchRows) : null;

  // Both sides hashed the same way: over the target's copied fields (and dynamic keys when it has them).
  const hashSource = rowHasher(targetSpec);
  const hashTarget = rowHasher(targetSpec);
  const sourceDigest = new RowDigest();
  const targetDigest = new RowDigest();
  const result = { rowsCompared: 0, inserted: 0, updated: 0, deleted: 0 };
  const sampleKeys: string[] = [];
  const sample = (key: string) => {
    if (sampleKeys.length < SAMPLE_KEYS && !sampleKeys.includes(key)) sampleKeys.push(key);
  };
  const cmp = (a: string, b: string) => (a === b ? 0 : comparePks(pk, a, b));

  /** The greatest key merged so far (from either side). */
  let merged: string | null = null;
  let lastSourceKey: string | null = null;
  let lastTargetKey: string | null = null;
  /** The last key consumed from the target, its matching source row and what was decided for it (duplicates on the target). */
  let lastMatch: { key: string; sourceRow: Row | null; rewritten: boolean } | null = null;

  try {
    // Both sides' first pages are read at once; each side then reads its next page while the current one is merged.
    sourceRows.start();
    targetRows.start();
    let sinceAbandonCheck = 0;
    for (;;) {
      if (args.abandon && ++sinceAbandonCheck >= ABANDON_CHECK_ROWS) {
        sinceAbandonCheck = 0;
        if (await args.abandon()) throw new CycleAbandoned();
      }
      const s = await sourceRows.head();
      const t = await targetRows.head();
      if (!s && !t) break;
      const sKey = s ? String(s[pk.name]) : null;
      const tKey = t ? String(t[pk.name]) : null;

      if (s && sKey === lastSourceKey) {
        // The source returned a key twice (count(*) counts such duplicates): the target can hold it once.
        result.rowsCompared += 1;
        sourceRows.advance();
        continue;
      }
      if (t && tKey !== null) {
        if (tKey === lastTargetKey) {
          // A duplicate key on the target: it is in the digest (the target differs), and the key is rewritten.
          targetDigest.add(hashTarget(t));
          targetRows.advance();
          if (lastMatch && lastMatch.key === tKey && !lastMatch.rewritten) {
            lastMatch.rewritten = true;
            sample(tKey);
            if (lastMatch.sourceRow) {
              result.updated += 1;
              writer?.replace(tKey, lastMatch.sourceRow);
            } else {
              result.deleted += 1;
              writer?.remove(tKey);
            }
          }
          continue;
        }
        if (merged !== null && cmp(tKey, merged) <= 0) {
          // Behind the merge: a row written there (by this sync or someone else) after the target's previous page was
          // read. Pages are read ahead, so this sync's own writes (at or below the current page) are never seen again; a guard.
          targetRows.advance();
          continue;
        }
      }

      const order = s && t ? cmp(sKey as string, tKey as string) : s ? -1 : 1;
      if (order < 0) {
        // Only on the source.
        const row = s as Row;
        sourceDigest.add(hashSource(row));
        result.rowsCompared += 1;
        result.inserted += 1;
        sample(sKey as string);
        writer?.insert(row);
        merged = lastSourceKey = sKey;
        sourceRows.advance();
      } else if (order > 0) {
        // Only on the target.
        targetDigest.add(hashTarget(t as Row));
        result.deleted += 1;
        sample(tKey as string);
        writer?.remove(tKey as string);
        merged = lastTargetKey = tKey;
        lastMatch = { key: tKey as string, sourceRow: null, rewritten: true };
        targetRows.advance();
      } else {
        const row = s as Row;
        const hs = hashSource(row);
        const ht = hashTarget(t as Row);
        sourceDigest.add(hs);
        targetDigest.add(ht);
        result.rowsCompared += 1;
        const differs = hs !== ht;
        if (differs) {
          result.updated += 1;
          sample(sKey as string);
          writer?.replace(sKey as string, row);
        }
        merged = lastSourceKey = lastTargetKey = sKey;
        lastMatch = { key: sKey as string, sourceRow: row, rewritten: differs };
        sourceRows.advance();
        targetRows.advance();
      }
      await writer?.flushIfFull();
    }
    await writer?.flush();
  } finally {
    // Reads started ahead never outlive the call.
    await Promise.all([sourceRows.close(), targetRows.close()]);
  }
  if (writer && writer.unwritableCount > 0) {
    throw new PermanentError(
      'INEXPRESSIBLE_KEY',
      `${targetName}: ${writer.unwritableCount} primary key(s) could not be deleted because no filter can hold them (control characters other than tab): ` +
        `${writer.unwritable.map((k) => JSON.stringify(k)).join(', ')}; every other change of the range was applied`,
    );
  }
  return { ...result, sourceDigest: sourceDigest.hex(), targetDigestBefore: targetDigest.hex(), sampleKeys };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value): Settled<T> => ({ ok: true, value }),
    (error): Settled<T> => ({ ok: false, error }),
  );

interface Page {
  rows: Row[];
  /** The page was full: more rows may follow. */
  more: boolean;
}

/**
 * The rows of one side's range in PK order, a page at a time, with the next page read ahead.
 *
 * Pages continue after the last key seen. A key that no filter can hold (a VarChar with a control
 * character) cannot be a cursor: the next page then starts at its expressible bound and skips the
 * rows between by offset (SKIP_SLACK rows fewer, dropping those at or below the last key seen;
 * when even the first row returned lies past the last key seen, rows may have been deleted below
 * the cursor meanwhile and the page is read again without a skip).
 */
class KeyOrderedRows {
  private page: Row[] = [];
  private index = 0;
  private ended = false;
  private ahead: Promise<Settled<Page>> | null = null;
  /** Where the next page starts: after `from`, skipping `skip` rows. */
  private from: string | null;
  private skip = 0;
  private lastSeen: string | null;
  private rowBytes: number;
  private budget: number;
  private readonly backoff: RateLimitBackoff;

  constructor(
    private readonly reader: RowBatchSource,
    private readonly spec: CollectionSpec,
    private readonly pk: FieldSpec,
    private readonly range: PkRange,
    budget: number,
    private readonly maxRows?: number,
  ) {
    this.from = range.lowerExclusive;
    this.lastSeen = range.lowerExclusive;
    this.rowBytes = estimateRowBytes(spec);
    this.budget = budget;
    this.backoff = new RateLimitBackoff(`read ${spec.name}`, DEFAULT_RATE_LIMIT_POLICY);
  }

  /** Starts reading the first page. */
  start(): void {
    if (!this.ahead && !this.ended && this.page.length === 0) this.ahead = settle(this.fetch());
  }

  /** The current row, or null at the end of the range. */
  async head(): Promise<Row | null> {
    if (this.index < this.page.length) return this.page[this.index];
    while (this.index >= this.page.length) {
      if (this.ended) return null;
      const settled = await (this.ahead ?? settle(this.fetch()));
      this.ahead = null;
      if (!settled.ok) throw settled.error;
      this.page = settled.value.rows;
      this.index = 0;
      if (settled.value.more) this.ahead = settle(this.fetch());
      else this.ended = true;
    }
    return this.page[this.index];
  }

  advance(): void {
    this.index += 1;
  }

  async close(): Promise<void> {
    if (this.ahead) await this.ahead;
    this.ahead = null;
  }

  private key(row: Row): string {
    return String(row[this.pk.name]);
  }

  private cmp(a: string, b: string): number {
    return a === b ? 0 : comparePks(this.pk, a, b);
  }

  private unpageable(): PermanentError {
    return new PermanentError(
      'UNPAGEABLE_KEYS',
      `${this.spec.name}: cannot page past ${JSON.stringify(this.lastSeen)}: more than ${MAX_QUERY_ROWS} primary keys share the prefix ${JSON.stringify(this.from)} followed by a control character`,
    );
  }

  /** Reads the next page and moves the cursor past it. */
  private async fetch(): Promise<Page> {
    let noSkip = false;
    for (;;) {
      const from = this.from;
      const skip = this.skip;
      const offset = noSkip ? 0 : Math.max(0, skip - SKIP_SLACK);
      if (offset >= MAX_QUERY_ROWS) throw this.unpageable();
      const limit = Math.max(1, Math.min(MAX_QUERY_ROWS - offset, rowsForBudget(this.budget, this.rowBytes, this.maxRows) + (skip - offset)));
      let rows: Row[];
      let bytes: number;
      try {
        const batch = await this.reader.read({ afterPk: from, upperInclusive: this.range.upperInclusive, offset, limit });
        rows = batch.payload;
        bytes = batch.bytes;
        this.backoff.reset();
      } catch (error) {
        // Rate limited: wait and read again (in half the bytes when the result was too large).
        if ((await this.backoff.absorb(error)) === 'resource-exhausted') this.budget = Math.max(1, Math.floor(this.budget / 2));
        continue;
      }
      const more = rows.length >= limit;
      if (rows.length) this.rowBytes = Math.max(1, bytes / rows.length);

      const last = this.lastSeen;
      let kept = rows;
      if (from !== last && last !== null) {
        // Re-read from an expressible bound: drop what was seen already.
        if (offset > 0 && rows.length && this.cmp(this.key(rows[0]), last) > 0) {
          // Rows below the cursor vanished meanwhile: the offset may have skipped unseen rows.
          noSkip = true;
          continue;
        }
        kept = rows.filter((r) => this.cmp(this.key(r), last) > 0);
        if (kept.length === 0 && more) throw this.unpageable();
      }
      if (kept.length) {
        const seen = this.key(kept[kept.length - 1]);
        const bound = expressibleBound(this.pk, seen);
        if (bound === seen) {
          this.from = seen;
          this.skip = 0;
        } else if (bound === from) {
          // Every row of the page and the `offset` rows before it lie in (from, seen].
          this.skip = offset + rows.length;
        } else {
          // A new bound past the old one: the rows in (bound, seen] are all in this page.
          this.from = bound;
          this.skip = rows.reduce((n, r) => n + (this.cmp(this.key(r), bound) > 0 ? 1 : 0), 0);
        }
        this.lastSeen = seen;
      }
      return { rows: kept, more };
    }
  }
}

/**
 * Buffers the target's changes and writes them in requests of about `budget` bytes: deletes
 * first, then the rows (upsert, or insert on an autoID target after the delete of the changed keys).
 */
class TargetWriter {
  private rows: Row[] = [];
  private rowBytes = 0;
  private deletes: string[] = [];
  private deleteBytes = 0;
  /** Keys that had to be deleted but that no filter can hold (the first few), and how many. */
  readonly unwritable: string[] = [];
  unwritableCount = 0;
  private readonly sizeOf: (row: Row) => number;
  private readonly writeBackoff: RateLimitBackoff;
  private readonly deleteBackoff: RateLimitBackoff;
  private readonly name: string;

  constructor(
    private readonly target: MilvusCluster,
    private readonly db: string,
    private readonly spec: CollectionSpec,
    private readonly pk: FieldSpec,
    private readonly partition: string | undefined,
    private readonly budget: number,
    /** autoID target with allow_insert_auto_id: delete then insert, never upsert. */
    private readonly autoId: boolean,
    private readonly maxRows = MAX_QUERY_ROWS,
  ) {
    this.name = `${db}.${spec.name}`;
    const fields = new Map(copiedFields(spec).map((f) => [f.name, f]));
    this.sizeOf = (row) => {
      let n = 0;
      for (const key in row) {
        const v = row[key];
        const f = fields.get(key);
        if (Array.isArray(v)) n += v.length * (f?.dataType === 'FloatVector' ? 4 : f?.dataType === 'Array' ? 16 : 1);
        else if (typeof v === 'string') n += v.length + 2;
        else if (v && typeof v === 'object') n += JSON.stringify(v).length;
        else n += 8;
      }
      return n;
    };
    this.writeBackoff = new RateLimitBackoff(`write to ${this.name}`, DEFAULT_RATE_LIMIT_POLICY);
    this.deleteBackoff = new RateLimitBackoff(`delete from ${this.name}`, DEFAULT_RATE_LIMIT_POLICY);
  }

  /** A row only on the source. */
  insert(row: Row): void {
    this.push(row);
  }

  /** A row whose content differs. */
  replace(key: string, row: Row): void {
    if (this.autoId) {
      // The changed key must be gone before the row is inserted again; without a filter for it, leave the row as is.
      if (!this.remove(key)) return;
    }
    this.push(row);
  }

  /** A key only on the target; false when no filter can hold it (reported at the end). */
  remove(key: string): boolean {
    if (expressibleBound(this.pk, key) !== key) {
      this.unwritableCount += 1;
      if (this.unwritable.length < SAMPLE_KEYS) this.unwritable.push(key);
      return false;
    }
    const literal = pkLiteral(this.pk, key);
    this.deletes.push(literal);
    this.deleteBytes += literal.length + 2;
    return true;
  }

  private push(row: Row): void {
    let out = row;
    // The target has no dynamic field (a mapping turned it off): the source's dynamic keys stay behind.
    if (!this.spec.enableDynamicField && DYNAMIC_FIELD in row) {
      const { [DYNAMIC_FIELD]: _meta, ...rest } = row;
      out = rest;
    }
    this.rows.push(out);
    this.rowBytes += this.sizeOf(out);
  }

  async flushIfFull(): Promise<void> {
    if (this.rowBytes >= this.budget || this.rows.length >= this.maxRows || this.deletes.length >= MAX_DELETE_KEYS || this.deleteBytes >= Math.min(this.budget, MAX_DELETE_EXPR_BYTES)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.deletes.length) {
      const literals = this.deletes;
      this.deletes = [];
      this.deleteBytes = 0;
      await this.deleteKeys(literals);
    }
    if (this.rows.length) {
      const rows = this.rows;
      this.rows = [];
      this.rowBytes = 0;
      await this.writeRows(rows);
    }
  }

  private async deleteKeys(literals: string[]): Promise<void> {
    const what = `delete ${literals.length} key(s) from ${this.name}${this.partition ? ` partition ${this.partition}` : ''}`;
    for (;;) {
      try {
        const reply = await milvusCall(what, () =>
          this.target.client(this.db).delete({
            collection_name: this.spec.name,
            filter: `${this.pk.name} in [${literals.join(', ')}]`,
            ...(this.partition ? { partition_name: this.partition } : {}),
            consistency_level: 'Strong' as never,
            timeout: DEFAULT_BATCH_TIMEOUT_MS,
          } as never),
        );
        assertOk(reply, what);
        this.deleteBackoff.reset();
        return;
      } catch (error) {
        await this.deleteBackoff.absorb(error);
      }
    }
  }

  /** Upserts (or inserts) rows; a request refused for its size (RESOURCE_EXHAUSTED) is split in halves. */
  private async writeRows(rows: Row[]): Promise<void> {
    const verb = this.autoId ? 'insert' : 'upsert';
    const what = `write ${rows.length} row(s) (${verb}) to ${this.name}${this.partition ? ` partition ${this.partition}` : ''}`;
    for (;;) {
      try {
        const request = {
          collection_name: this.spec.name,
          ...(this.partition ? { partition_name: this.partition } : {}),
          data: rows as never,
          transformers: writeTransformers as never,
          timeout: DEFAULT_BATCH_TIMEOUT_MS,
        };
        const client = this.target.client(this.db);
        // An upsert of the same rows twice leaves the same state: safe to send again. An insert is not.
        const reply: any = await milvusCall(what, () => (this.autoId ? client.insert(request) : client.upsert(request)), { idempotent: !this.autoId });
        assertOk(reply, what);
        const written = Number((this.autoId ? reply.insert_cnt : (reply.upsert_cnt ?? reply.insert_cnt)) ?? reply.succ_index?.length ?? 0);
        if (written !== rows.length || reply.err_index?.length) {
          throw new PermanentError('WRITE_INCOMPLETE', `${what}: the target accepted ${written}`);
        }
        this.writeBackoff.reset();
        return;
      } catch (error) {
        const kind = await this.writeBackoff.absorb(error);
        if (kind === 'resource-exhausted' && rows.length > 1) {
          const half = Math.ceil(rows.length / 2);
          await this.writeRows(rows.slice(0, half));
          await this.writeRows(rows.slice(half));
          return;
        }
      }
    }
  }
}
