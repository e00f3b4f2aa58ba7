import { PermanentError } from '../errors';
import type { CollectionSpec, RangePair } from '../milvus';
import { ensureLoaded, ensureReadable } from '../milvus/collections';
import { comparePks, expressibleBound, pkLiteral } from '../milvus/filter';
import { decodeColumnRows } from '../milvus/gateway';
import { ColumnPages, RowPages, type CollectionSide, type Page, type PageSource, type ReadRequest } from '../milvus/keyRange/pages';
import { DEFAULT_START_ROWS } from '../milvus/keyRange/batchSize';
import { KeyRangeReader } from '../milvus/keyRange/reader';
import { estimateRowBytes, MAX_BATCH_BYTES, MAX_QUERY_ROWS, rowSizer } from '../milvus/keyRange/rowSize';
import { KeyRangeWriter, MAX_DELETE_EXPR_BYTES, MAX_DELETE_KEYS } from '../milvus/keyRange/writer';
import { ALLOW_INSERT_AUTO_ID, keyOrigin, primaryField, type FieldSpec } from '../milvus/spec';
import { columnHasher, rowHasher, RowDigest, type Row } from './rowDigest';
import { CycleAbandoned } from './strategy';
import { exampleKey } from '../exampleKeys';

/**
 * The row-level sync of one primary key range (the online mode's snapshot diff): reads the
 * source's rows and the target's rows of the range in PK order (Strong consistency, pages sized
 * by bytes), merge-joins the two sorted streams by primary key, and makes the target equal to the
 * source: rows only on the source are written, rows whose content differs are replaced, rows only
 * on the target are deleted.
 *
 * Rows are read as columns (the raw channel, as the copy reads them) and compared by hashes of
 * their bytes (rowDigest.ts columnHasher); a page's rows are decoded only when one of them is
 * written or its hash differs from the other side's (two rows whose bytes differ are then compared
 * decoded, canonically, so a spelling of the same value never counts as a change). Without the raw
 * channel both sides are read as decoded rows and hashed canonically (rowHasher). Every read starts after the call starts, so when it returns every
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
  /** Told each primary key that differs, as the merge meets it. */
  onDifference?: (pk: string) => void;
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

export async function syncRange(args: RangeSyncArgs): Promise<RangeSyncResult> {
  const { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition, apply } = args;
  const pk = primaryField(targetSpec);
  const targetName = `${targetDb}.${targetSpec.name}`;
  if (primaryField(sourceSpec).name !== pk.name || primaryField(sourceSpec).dataType !== pk.dataType) {
    throw new PermanentError('SYNC_UNSUPPORTED', `${targetName}: the primary key differs from the source's (${primaryField(sourceSpec).name}); rows cannot be matched by key`);
  }
  const origin = keyOrigin(targetSpec);
  if (origin === 'generated') {
    throw new PermanentError('SYNC_UNSUPPORTED', `${targetName} generates its own primary keys (autoID without ${ALLOW_INSERT_AUTO_ID}): its rows cannot be matched with the source's by key`);
  }

  // Query on an unloaded collection answers nothing (milvus-lite): load both; the source is never changed.
  await ensureReadable(source, sourceDb, sourceSpec.name);
  await ensureLoaded(target, targetDb, targetSpec);

  // The source's dynamic keys are read only when the target keeps them (a mapping may turn them off).
  const readSpec: CollectionSpec = { ...sourceSpec, enableDynamicField: sourceSpec.enableDynamicField && targetSpec.enableDynamicField };
  const budget = Math.max(1, Math.min(args.batchBytes, MAX_BATCH_BYTES));
  const sourceSide: CollectionSide = { cluster: source, db: sourceDb, spec: readSpec, partition };
  const targetSide: CollectionSide = { cluster: target, db: targetDb, spec: targetSpec, partition };
  // The job's batchRows, or the copy's starting size (the sync's pages do not adapt: milvus-lite's query time grows faster than its pages).
  const maxRows = args.batchRows ?? DEFAULT_START_ROWS;
  // Both sides hashed the same way: over the target's copied fields (and dynamic keys when it has them).
  const byColumns = source.supportsColumns() && target.supportsColumns();
  const sourceRows = new KeyOrderedRows(hashedPages(sourceSide, targetSpec, byColumns), sourceSide, pk, range, budget, maxRows);
  const targetRows = new KeyOrderedRows(hashedPages(targetSide, targetSpec, byColumns), targetSide, pk, range, budget, maxRows);
  const writer = apply ? new TargetWriter(targetSide, pk, budget, origin === 'explicit-autoid', maxRows) : null;
  /** Two rows whose hashes differ, compared decoded: the same content spelled differently (JSON, a page hashed by rows) is no change. */
  const canonical = rowHasher(targetSpec);
  const sameContent = (s: Entry, t: Entry) => byColumns && canonical(s.row()) === canonical(t.row());
  const sourceDigest = new RowDigest();
  const targetDigest = new RowDigest();
  const result = { rowsCompared: 0, inserted: 0, updated: 0, deleted: 0 };
  const sampleKeys: string[] = [];
  const sample = (key: string) => {
    args.onDifference?.(key);
    if (sampleKeys.length < SAMPLE_KEYS && !sampleKeys.includes(exampleKey(key))) sampleKeys.push(exampleKey(key));
  };
  const cmp = (a: string, b: string) => (a === b ? 0 : comparePks(pk, a, b));

  /** The greatest key merged so far (from either side). */
  let merged: string | null = null;
  let lastSourceKey: string | null = null;
  let lastTargetKey: string | null = null;
  /** The last key consumed from the target, its matching source row and what was decided for it (duplicates on the target). */
  let lastMatch: { key: string; source: Entry | null; rewritten: boolean } | null = null;

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
      const sKey = s ? s.key : null;
      const tKey = t ? t.key : null;

      if (s && sKey === lastSourceKey) {
        // The source returned a key twice (count(*) counts such duplicates): the target can hold it once.
        result.rowsCompared += 1;
        sourceRows.advance();
        continue;
      }
      if (t && tKey !== null) {
        if (tKey === lastTargetKey) {
          // A duplicate key on the target: it is in the digest (the target differs), and the key is rewritten.
          targetDigest.add(t.hash);
          targetRows.advance();
          if (lastMatch && lastMatch.key === tKey && !lastMatch.rewritten) {
            lastMatch.rewritten = true;
            sample(tKey);
            if (lastMatch.source) {
              result.updated += 1;
              writer?.replace(tKey, lastMatch.source.row());
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
        const entry = s as Entry;
        sourceDigest.add(entry.hash);
        result.rowsCompared += 1;
        result.inserted += 1;
        sample(sKey as string);
        writer?.insert(entry.row());
        merged = lastSourceKey = sKey;
        sourceRows.advance();
      } else if (order > 0) {
        // Only on the target.
        targetDigest.add((t as Entry).hash);
        result.deleted += 1;
        sample(tKey as string);
        writer?.remove(tKey as string);
        merged = lastTargetKey = tKey;
        lastMatch = { key: tKey as string, source: null, rewritten: true };
        targetRows.advance();
      } else {
        const [se, te] = [s as Entry, t as Entry];
        const differs = se.hash !== te.hash && !sameContent(se, te);
        sourceDigest.add(se.hash);
        // The same content counts as the source's row on both sides, however the target spells it.
        targetDigest.add(differs ? te.hash : se.hash);
        result.rowsCompared += 1;
        if (differs) {
          result.updated += 1;
          sample(sKey as string);
          writer?.replace(sKey as string, se.row());
        }
        merged = lastSourceKey = lastTargetKey = sKey;
        lastMatch = { key: sKey as string, source: se, rewritten: differs };
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

/** A page of one side: its keys, its rows' hashes, and its rows decoded on demand. */
interface Hashed {
  keys: string[];
  hashes: bigint[];
  row(i: number): Row;
}

/** A row of one side: its key, its hash, and the row itself decoded on demand (to write it, or to look closer). */
class Entry {
  constructor(
    readonly key: string,
    readonly hash: bigint,
    private readonly page: Hashed,
    private readonly index: number,
  ) {}

  row(): Row {
    return this.page.row(this.index);
  }
}

/**
 * A side's pages with their rows' hashes: columns hashed as bytes (columnHasher), decoded only when
 * asked; or, without the raw channel, decoded rows hashed canonically (rowHasher). Either way a page
 * can drop its first rows, so the reader pages past keys no filter can hold as for rows.
 */
function hashedPages(side: CollectionSide, hashSpec: CollectionSpec, byColumns: boolean): PageSource<Hashed> {
  const pk = primaryField(side.spec).name;
  const hashRow = rowHasher(hashSpec);
  const pageOf = (keys: string[], hashes: bigint[], rows: () => Row[], bytes: number, from = 0): Page<Hashed> => {
    const count = keys.length - from;
    return {
      rowCount: count,
      lastPk: count > 0 ? keys[keys.length - 1]! : null,
      bytes: from === 0 ? bytes : Math.round((bytes * count) / Math.max(keys.length, 1)),
      payload: { keys: from ? keys.slice(from) : keys, hashes: from ? hashes.slice(from) : hashes, row: (i) => rows()[i + from]! },
      keys: () => (from ? keys.slice(from) : keys),
      dropFirst: (n) => pageOf(keys, hashes, rows, bytes, from + n),
    };
  };
  if (!byColumns) {
    const rows = new RowPages(side);
    return {
      canDropRows: true,
      keysAfter: (...a) => rows.keysAfter(...a),
      roundTrip: () => rows.roundTrip(),
      read: async (request: ReadRequest) => {
        const page = await rows.read(request);
        const decoded = page.payload;
        return pageOf(decoded.map((r) => String(r[pk])), decoded.map(hashRow), () => decoded, page.bytes);
      },
    };
  }
  const columns = new ColumnPages(side);
  const hashColumns = columnHasher(hashSpec);
  return {
    canDropRows: true,
    keysAfter: (...a) => columns.keysAfter(...a),
    roundTrip: () => columns.roundTrip(),
    read: async (request: ReadRequest) => {
      const page = await columns.read(request);
      let decoded: Row[] | null = null;
      const rows = () => (decoded ??= decodeColumnRows(page.payload.fields));
      const keys = page.rowCount > 0 ? page.keys() : [];
      // A layout columnHasher cannot split (vector arrays, structs): this page's rows hashed decoded.
      const hashes = page.rowCount > 0 ? (hashColumns(page.payload.fields, page.rowCount) ?? rows().map(hashRow)) : [];
      return pageOf(keys, hashes, rows, page.bytes);
    },
  };
}

/** One side's rows of the range in key order, a row at a time, over the key-range engine's reader. */
class KeyOrderedRows {
  private readonly reader: KeyRangeReader<Hashed>;
  private page: Hashed = { keys: [], hashes: [], row: () => ({}) };
  private index = 0;
  private ended = false;

  constructor(pages: PageSource<Hashed>, side: CollectionSide, pk: FieldSpec, range: RangePair['range'], budget: number, maxRows?: number) {
    this.reader = new KeyRangeReader(pages, {
      pk,
      range,
      batchBytes: budget,
      batchRows: maxRows,
      rowBytes: estimateRowBytes(side.spec),
      what: `read ${side.db}.${side.spec.name}`,
    });
  }

  /** Starts reading the first page. */
  start(): void {
    this.reader.start();
  }

  /** The current row, or null at the end of the range. */
  async head(): Promise<Entry | null> {
    while (this.index >= this.page.keys.length) {
      if (this.ended) return null;
      const page = await this.reader.next();
      if (!page) {
        this.ended = true;
        return null;
      }
      this.page = page.payload;
      this.index = 0;
    }
    const { page, index } = this;
    // A class, not a closure a row: the per-row cost is what this path exists to cut.
    return new Entry(page.keys[index]!, page.hashes[index]!, page, index);
  }

  advance(): void {
    this.index += 1;
  }

  close(): Promise<void> {
    return this.reader.close();
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
  private readonly writer: KeyRangeWriter;

  constructor(
    side: CollectionSide,
    private readonly pk: FieldSpec,
    private readonly budget: number,
    /** autoID target with allow_insert_auto_id: delete then insert, never upsert (an upsert would mint new keys). */
    private readonly autoId: boolean,
    private readonly maxRows = MAX_QUERY_ROWS,
  ) {
    this.sizeOf = rowSizer(side.spec);
    this.writer = new KeyRangeWriter(side);
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

  /** The writer leaves behind the dynamic keys of a target without a dynamic field (a mapping turned it off). */
  private push(row: Row): void {
    this.rows.push(row);
    this.rowBytes += this.sizeOf(row);
  }

  async flushIfFull(): Promise<void> {
    if (this.rowBytes >= this.budget || this.rows.length >= this.maxRows || this.deletes.length >= MAX_DELETE_KEYS || this.deleteBytes >= Math.min(this.budget, MAX_DELETE_EXPR_BYTES)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.deletes.length) {
      const literals = this.deletes;
      this.deletes = [];
      this.deleteBytes = 0;
      await this.writer.deleteKeys(literals);
    }
    if (this.rows.length) {
      const rows = this.rows;
      this.rows = [];
      this.rowBytes = 0;
      await this.writer.writeRows(rows, this.autoId ? 'insert' : 'upsert');
    }
  }
}
