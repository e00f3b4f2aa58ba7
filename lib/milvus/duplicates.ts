import { PermanentError } from '../errors';
import { EXAMPLE_CHARS } from '../exampleKeys';
import type { MilvusGateway } from './gateway';
import type { PkRange } from './copy';
import { comparePks, expressibleBound, pkRangeFilter } from './filter';
import { MAX_QUERY_ROWS } from './keyRange/rowSize';
import { primaryField, type CollectionSpec } from './spec';

/**
 * Duplicate primary keys. Milvus does not enforce key uniqueness: an application that calls
 * `insert` twice for one key leaves two rows. `count(*)` counts both; a query returns one row per
 * key (the later insert; measured on milvus-lite, as on Milvus). A copy reads by query, so the
 * target gets one row per key, and the source's count(*) exceeds the target's by the duplicates.
 *
 * Found without reading the data again: the copy knows how many distinct keys it read in a key
 * range; one count(*) over that range tells whether there are duplicates. Only then are the keys
 * of the range read (keys only, pages of 16,384), each page's rows counted, which confirms the
 * duplicates exactly, and the keys of a page holding more rows than keys bisected by count(*)
 * to name a few.
 */

/** Example keys kept per collection (messages, the collection item): a bounded size whatever the data. */
export const DUPLICATE_EXAMPLES = 5;
/** Example keys are cut to this many characters (a VarChar key may hold 64 KB). */
export { EXAMPLE_CHARS };

export interface KeySide {
  cluster: MilvusGateway;
  db: string;
  spec: CollectionSpec;
  partition?: string;
}

export interface Duplicates {
  /** Rows beyond the first of their key: count(*) minus the distinct keys. */
  rows: number;
  /** A few duplicated keys (at most DUPLICATE_EXAMPLES), cut to EXAMPLE_CHARS. */
  examples: string[];
}

/** The rows count(*) sees in a key range (within the side's partition). */
export function countRange(side: KeySide, lowerExclusive: string | null, upperInclusive: string | null): Promise<number> {
  const pk = primaryField(side.spec);
  return side.cluster.count(side.db, side.spec.name, {
    filter: pkRangeFilter(pk, lowerExclusive, upperInclusive),
    partition: side.partition,
    what: `count ${side.db}.${side.spec.name} by key range`,
  });
}

const inexpressible = (error: unknown): boolean => error instanceof PermanentError && error.code === 'INEXPRESSIBLE_KEY';

/**
 * The duplicate rows of a key range whose distinct keys the caller counted (a copy's rows): one
 * count(*); only when it exceeds them are the range's keys read (keys only) to confirm the
 * difference as duplicates and name a few. What is not confirmed is not reported: a copy that
 * missed rows is not excused by it. A range whose bounds no filter can hold is not counted.
 */
export async function duplicatesInRange(side: KeySide, range: PkRange, distinctKeys: number): Promise<Duplicates> {
  let held: number;
  try {
    held = await countRange(side, range.lowerExclusive, range.upperInclusive);
  } catch (error) {
    if (inexpressible(error)) return { rows: 0, examples: [] };
    throw error;
  }
  const rows = held - distinctKeys;
  if (rows <= 0) return { rows: 0, examples: [] };
  const confirmed = await findDuplicateKeys(side, range, rows);
  return { rows: Math.min(rows, confirmed.rows), examples: confirmed.examples };
}

/**
 * Walks the keys of `range` a page at a time (keys only, in key order) and counts each page's rows:
 * a page holding more rows than keys holds duplicates, and its keys are bisected until
 * DUPLICATE_EXAMPLES keys are named. Stops once `expectedRows` duplicate rows are accounted for;
 * `rows` is what it accounted for: fewer than expected when the range holds fewer duplicates (the
 * rest of a count's difference is something else, rows a copy missed, and must not be taken for
 * duplicates).
 */
export async function findDuplicateKeys(side: KeySide, range: PkRange, expectedRows: number): Promise<Duplicates> {
  const pk = primaryField(side.spec);
  const byKey = (a: string, b: string) => comparePks(pk, a, b);
  // A key with a control character cannot bound a filter (filter.ts): ranges end at other keys.
  const canBound = (key: string) => expressibleBound(pk, key) === key;
  const examples: string[] = [];
  let found = 0;

  /** keys[lo..hi] are the keys of (lower, upper], which holds `extra` rows more than keys. */
  const bisect = async (keys: string[], lo: number, hi: number, lower: string | null, upper: string | null, extra: number): Promise<void> => {
    if (examples.length >= DUPLICATE_EXAMPLES || extra <= 0) return;
    if (lo === hi) {
      // By code points: a cut through a surrogate pair would leave a string DynamoDB refuses.
      examples.push(Array.from(keys[lo]!).slice(0, EXAMPLE_CHARS).join(''));
      return;
    }
    const mid = splitAt(keys, lo, hi, canBound);
    if (mid === null) return;
    const leftExtra = (await countRange(side, lower, keys[mid]!)) - (mid - lo + 1);
    await bisect(keys, lo, mid, lower, keys[mid]!, leftExtra);
    await bisect(keys, mid + 1, hi, keys[mid]!, upper, extra - leftExtra);
  };

  try {
    let cursor = range.lowerExclusive;
    while (found < expectedRows) {
      const keys = await side.cluster.queryKeys(side.db, side.spec.name, {
        pkField: pk.name,
        filter: pkRangeFilter(pk, cursor, range.upperInclusive),
        limit: MAX_QUERY_ROWS,
        partition: side.partition,
        what: `read keys of ${side.db}.${side.spec.name} for duplicates`,
      });
      if (keys.length === 0) break;
      keys.sort(byKey);
      // The last page runs to the range's end; a full one to its last key a filter can hold.
      const full = keys.length >= MAX_QUERY_ROWS;
      let last = keys.length - 1;
      if (full) while (last >= 0 && !canBound(keys[last]!)) last -= 1;
      if (last < 0) break;
      const upper = full ? keys[last]! : range.upperInclusive;
      const extra = (await countRange(side, cursor, upper)) - (last + 1);
      if (extra > 0) {
        found += extra;
        if (examples.length < DUPLICATE_EXAMPLES) await bisect(keys, 0, last, cursor, upper, extra);
      }
      if (!full) break;
      cursor = keys[last]!;
    }
  } catch (error) {
    // A range bound no filter can hold ends the search: what was found stands.
    if (!inexpressible(error)) throw error;
  }
  return { rows: found, examples };
}

/** An index in [lo, hi) near the middle whose key can bound a filter (the left half ends there), or null. */
function splitAt(keys: readonly string[], lo: number, hi: number, canBound: (key: string) => boolean): number | null {
  const mid = (lo + hi) >> 1;
  for (let d = 0; mid - d >= lo || mid + d < hi; d += 1) {
    if (mid - d >= lo && canBound(keys[mid - d]!)) return mid - d;
    if (mid + d < hi && canBound(keys[mid + d]!)) return mid + d;
  }
  return null;
}

/** "3, 100, 197" or `"a", "b", ...` for messages (keys other than integers quoted), at most `shown` of them. */
export function describeExamples(examples: readonly string[], rows: number, shown = DUPLICATE_EXAMPLES): string {
  const listed = examples
    .slice(0, shown)
    .map((k) => (/^-?\d+$/.test(k) ? k : JSON.stringify(k)))
    .join(', ');
  return Math.min(examples.length, shown) < rows ? `${listed}, ...` : listed;
}
