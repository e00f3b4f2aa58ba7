import { PermanentError } from '../errors';
import type { MilvusGateway } from './gateway';
import { ensureLoaded, ensureReadable } from './collections';
import { comparePks, expressibleBound, pkLiteral, pkRangeDeleteFilter, pkRangeFilter } from './filter';
import { primaryField, type CollectionSpec } from './spec';
import { ColumnPages, RowPages, type CollectionSide, type PageSource } from './keyRange/pages';
import type { RateLimitKind, RateLimitPolicy } from './keyRange/rateLimit';
import { KeyRangeReader } from './keyRange/reader';
import { DEFAULT_BATCH_TIMEOUT_MS, estimateRowBytes, MAX_QUERY_ROWS } from './keyRange/rowSize';
import { KeyRangeWriter } from './keyRange/writer';

export interface PkRange {
  lowerExclusive: string | null;
  upperInclusive: string | null;
}

/** One primary key range of a collection, on both sides: what a copy (here) or a sync (lib/sync/rangeSync.ts) works on. */
export interface RangePair {
  source: MilvusGateway;
  sourceDb: string;
  sourceSpec: CollectionSpec;
  target: MilvusGateway;
  targetDb: string;
  targetSpec: CollectionSpec;
  range: PkRange;
  /**
   * The partition the range lies in: read from it on the source and written into the partition of
   * the same name on the target (absent: the whole collection, rows land where the target puts them).
   */
  partition?: string;
}

export interface CopyShardArgs extends RangePair {
  /**
   * The target collection held rows of its own before the job (options.existingTarget 'append'):
   * on resume only the source's keys past the checkpoint are deleted there, never a key range.
   */
  appendTarget?: boolean;
  /** Last source PK already written to the target (null: none yet). */
  checkpoint: string | null;
  /** Approximate bytes per batch. */
  batchBytes: number;
  /** At most this many rows per read and write (default: as many as batchBytes holds). */
  batchRows?: number;
  /** Batches fitted to what the stream measures (keyRange/batchSize.ts), from batchBytes and 256 rows (or batchRows, fixed). */
  adaptiveBatches?: boolean;
  /** Epoch ms: no new batch starts after it. */
  deadline: number;
  /**
   * Called before each write to the target (the clearing past the checkpoint, every batch); what
   * it throws stops the copy there. The copy step checks that it still holds the shard.
   */
  beforeWrite?: () => Promise<void>;
  /** Persists the checkpoint; called after each successful write, in order. `rows` is that batch's row count. */
  onBatch(progress: { checkpoint: string; rows: number }): Promise<void>;
  /** Replace the source's pages or the target's writer (tests, benchmarks). */
  pages?: PageSource;
  writer?: KeyRangeWriter;
  /** 'columnar' (default; the pass-through of the gateway's raw channel, where the clusters allow it) or 'rows' (decoded rows). */
  path?: 'columnar' | 'rows';
  /** Backoff on rate limits (RateLimit, RESOURCE_EXHAUSTED); defaults to about two minutes in all. */
  rateLimit?: RateLimitPolicy;
  /** Hears every rate-limit refusal that the copy absorbed (logs, tests). */
  onRateLimited?: (kind: RateLimitKind, attempt: number, waitMs: number) => void;
  /** Deadline of each read and write call. */
  batchTimeoutMs?: number;
}

/**
 * Copies the rows of one PK range from `checkpoint` (or the range start) to its end, batch by batch,
 * until done or past the deadline. Safe to rerun from the last persisted checkpoint at any point:
 * it first deletes the target's rows in (checkpoint, upper], i.e. whatever a crashed run wrote
 * past its checkpoint, so the shard ends with no missing and no duplicate rows.
 */
export async function copyShard(args: CopyShardArgs): Promise<{ done: boolean; rowsCopied: number }> {
  const { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition } = args;
  // Query on an unloaded collection answers nothing (milvus-lite) or fails; range deletes need it loaded too.
  await ensureReadable(source, sourceDb, sourceSpec.name);
  await ensureLoaded(target, targetDb, targetSpec);

  const pk = primaryField(sourceSpec);
  const timeoutMs = args.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
  const sourceSide: CollectionSide = { cluster: source, db: sourceDb, spec: sourceSpec, partition, timeoutMs };
  const writer =
    args.writer ?? new KeyRangeWriter({ cluster: target, db: targetDb, spec: targetSpec, partition, timeoutMs }, { what: `write to ${targetSpec.name}`, rateLimit: args.rateLimit, onRateLimited: args.onRateLimited });
  const checkpoint = args.checkpoint ?? range.lowerExclusive;
  // Filters cannot hold every key (filter.ts): the target's rows past the greatest expressible
  // bound at or below the checkpoint are cleared and copied again; those at or below the
  // checkpoint were counted already and are not counted twice.
  let from = checkpoint === null ? null : expressibleBound(pk, checkpoint);
  let landedRows = 0;
  let recopied = from === null || checkpoint === null || from === checkpoint ? 0 : await rowsBetween(source, sourceDb, sourceSpec, from, checkpoint, range.upperInclusive, partition);
  if (writer.discardsKeys) {
    // The target's generated keys say nothing of the source's: nothing can be cleared by key.
    if (from !== checkpoint) {
      throw new PermanentError('AUTO_ID_RESUME_UNSAFE', `${sourceSpec.name}: cannot resume after ${JSON.stringify(checkpoint)} (a key no filter can hold) on a target that generates its keys; run the job again`);
    }
  } else if (args.appendTarget) await clearSourceKeysPastCheckpoint(args, from);
  else {
    // Batches that landed whole before a crash are kept and counted, not deleted and written
    // again (milvus-lite cannot delete keys holding a quote); anything else past it is cleared.
    const landed = await settlePastCheckpoint(args, from, from === checkpoint);
    if (landed) {
      await args.onBatch({ checkpoint: landed.lastPk, rows: landed.rows });
      landedRows = landed.rows;
      from = landed.lastPk;
    }
  }

  const pages: PageSource =
    args.pages ?? ((args.path ?? 'columnar') === 'columnar' && source.supportsColumns() && target.supportsColumns() ? new ColumnPages(sourceSide) : new RowPages(sourceSide));
  const reader = new KeyRangeReader(pages, {
    pk,
    range,
    after: from,
    batchBytes: args.batchBytes,
    batchRows: args.batchRows,
    adaptive: args.adaptiveBatches,
    callTimeoutMs: timeoutMs,
    roundTrips: [() => writer.roundTrip()],
    rowBytes: estimateRowBytes(sourceSpec),
    what: `read ${sourceSpec.name}`,
    rateLimit: args.rateLimit,
    onRateLimited: args.onRateLimited,
  });
  let rowsCopied = landedRows;
  let high = landedRows > 0 ? from : checkpoint;
  try {
    while (Date.now() < args.deadline) {
      const page = await reader.next();
      if (!page) return { done: true, rowsCopied };
      if (page.lastPk === null) throw new PermanentError('MILVUS_REPLY', `read ${sourceSpec.name}: ${page.rowCount} rows without primary keys`);
      await args.beforeWrite?.();
      if ((await writer.insertPage(page)) === 'shrink') {
        // The target refused the request's size or has no room: read the same rows again in half the bytes.
        await reader.shrink(page.bytes);
        continue;
      }
      const counted = Math.max(0, page.rowCount - recopied);
      recopied = Math.max(0, recopied - page.rowCount);
      rowsCopied += counted;
      if (high === null || comparePks(pk, page.lastPk, high) > 0) high = page.lastPk;
      await args.onBatch({ checkpoint: high, rows: counted });
    }
    return { done: false, rowsCopied };
  } finally {
    // A read started ahead is never left running past the copy.
    await reader.close();
  }
}

/** The primary keys in (from, upper] (within the partition), at most `limit`, read as keys only. */
function keysInRange(cluster: MilvusGateway, db: string, spec: CollectionSpec, from: string | null, upperInclusive: string | null, limit: number, partition?: string): Promise<string[]> {
  const pk = primaryField(spec);
  return cluster.queryKeys(db, spec.name, { pkField: pk.name, filter: pkRangeFilter(pk, from, upperInclusive), limit, partition });
}

/** The target's rows matching `filter` past the checkpoint (count(*) counts a key written twice twice; a query shows it once). */
function countPastCheckpoint(target: MilvusGateway, db: string, spec: CollectionSpec, filter: string, partition?: string): Promise<number> {
  return target.count(db, spec.name, { filter, partition, what: `count ${db}.${spec.name} past the checkpoint` });
}

/**
 * Makes the target's rows past the checkpoint (within the shard) safe to copy over. When they are
 * exactly the source's next rows (the same keys in key order, each once: batches that landed whole
 * before a crash) and `mayKeep`, they stay and their last key and count are returned. Anything
 * else is deleted. Counted first, so the delete (which milvus-lite refuses for keys containing a
 * quote) runs only when there is something to remove. Keys only are compared: the rows came from
 * the same source reads, in an offline window.
 */
async function settlePastCheckpoint(
  { source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition, beforeWrite }: CopyShardArgs,
  from: string | null,
  mayKeep: boolean,
): Promise<{ lastPk: string; rows: number } | null> {
  const { upperInclusive } = range;
  const pk = primaryField(targetSpec);
  const filter = pkRangeDeleteFilter(pk, from, upperInclusive);
  // Within the shard's partition only: another partition's rows in the same key range belong to other shards.
  const held = await countPastCheckpoint(target, targetDb, targetSpec, filter, partition);
  if (held === 0) return null;
  if (mayKeep && held < MAX_QUERY_ROWS && primaryField(sourceSpec).name === pk.name) {
    const byKey = (a: string, b: string) => comparePks(pk, a, b);
    const written = (await keysInRange(target, targetDb, targetSpec, from, upperInclusive, held, partition)).sort(byKey);
    const expected = (await keysInRange(source, sourceDb, sourceSpec, from, upperInclusive, held, partition)).sort(byKey);
    const lastPk = written[written.length - 1] as string;
    const whole = written.length === held && expected.length === held && expected.every((k, i) => k === written[i]);
    if (whole && expressibleBound(pk, lastPk) === lastPk) return { lastPk, rows: held };
  }
  await beforeWrite?.();
  await target.deleteRows(targetDb, { collection: targetSpec.name, filter, partition, what: `clear ${targetDb}.${targetSpec.name} past the checkpoint` });
  return null;
}

/**
 * The append variant of settlePastCheckpoint: the target's own rows may lie in the key range, so
 * only the keys the source holds in (from, upper] are deleted there, a page of keys at a time.
 */
async function clearSourceKeysPastCheckpoint({ source, sourceDb, sourceSpec, target, targetDb, targetSpec, range, partition, beforeWrite }: CopyShardArgs, from: string | null): Promise<void> {
  const { upperInclusive } = range;
  const pk = primaryField(sourceSpec);
  let cursor = from;
  for (;;) {
    const keys = await keysInRange(source, sourceDb, sourceSpec, cursor, upperInclusive, MAX_QUERY_ROWS, partition);
    if (keys.length === 0) return;
    const filter = `${pk.name} in [${keys.map((k: string) => pkLiteral(pk, k)).join(', ')}]`;
    if ((await countPastCheckpoint(target, targetDb, targetSpec, filter, partition)) > 0) {
      await beforeWrite?.();
      await target.deleteRows(targetDb, { collection: targetSpec.name, filter, partition, what: `clear ${targetDb}.${targetSpec.name} past the checkpoint` });
    }
    if (keys.length < MAX_QUERY_ROWS) return;
    cursor = keys[keys.length - 1] as string; // pkLiteral above refused any key a filter cannot hold
  }
}

/** How many keys lie in (from, key] (within the shard), read as keys only. */
async function rowsBetween(cluster: MilvusGateway, db: string, spec: CollectionSpec, from: string, key: string, upperInclusive: string | null, partition?: string): Promise<number> {
  const pk = primaryField(spec);
  const keys = await keysInRange(cluster, db, spec, from, upperInclusive, MAX_QUERY_ROWS, partition);
  const between = keys.filter((k: string) => comparePks(pk, k, key) <= 0).length;
  if (between >= MAX_QUERY_ROWS) {
    throw new PermanentError('UNPAGEABLE_KEYS', `more than ${MAX_QUERY_ROWS} primary keys of ${spec.name} share the prefix ${JSON.stringify(from)} followed by a control character`);
  }
  return between;
}
