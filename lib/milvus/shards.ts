import { PermanentError } from '../errors';
import { shardCountFor } from '../shardPlan';
import type { MilvusGateway } from './gateway';
import { countRows } from './collections';
import { comparePks, expressibleBound, pkRangeFilter } from './filter';
import { MAX_QUERY_ROWS } from './keyRange/rowSize';
import { primaryField, type CollectionSpec } from './spec';
import type { PkRange } from './copy';

export interface PlanShardsOptions {
  rowsPerShard: number;
  /** Shards copied at once: smaller collections are split this many ways too, down to lib/shardPlan.ts MIN_ROWS_PER_SHARD rows a shard. */
  concurrency?: number;
  /** Default lib/shardPlan.ts MIN_ROWS_PER_SHARD. */
  minRowsPerShard?: number;
  /** Default 1000. */
  maxShards?: number;
  /** Plan the rows of this partition only. */
  partition?: string;
}

/**
 * Splits a collection into PK ranges of at most about `rowsPerShard` rows, and into at least
 * `concurrency` of them when it has the rows (lib/shardPlan.ts shardCountFor). Boundaries are found by hopping
 * in PK order with offset queries (`pk > cursor`, offset k-1, limit 1; offset+limit <= 16,384),
 * reading one PK per hop instead of every row. The ranges cover every PK exactly once: the first
 * is open below, the last open above. Only reads the collection (loading it if it must).
 */
export async function planShards(cluster: MilvusGateway, db: string, spec: CollectionSpec, options: PlanShardsOptions): Promise<PkRange[]> {
  if (!(options.rowsPerShard > 0)) throw new PermanentError('INVALID_OPTIONS', 'rowsPerShard must be positive');
  const count = await countRows(cluster, db, spec.name, { readOnly: true, partition: options.partition });
  const shardCount = shardCountFor(count, options);
  const pk = primaryField(spec);

  /** The PK `k` rows after `cursor` (k >= 1, k <= 16,384), or null when there are fewer. */
  const hop = async (cursor: string | null, k: number): Promise<string | null> => {
    const [key] = await cluster.queryKeys(db, spec.name, {
      pkField: pk.name,
      filter: pkRangeFilter(pk, cursor, null),
      partition: options.partition,
      offset: k - 1,
      limit: 1,
      what: `plan shards of ${db}.${spec.name}`,
    });
    return key ?? null;
  };

  const boundaries: string[] = [];
  let cursor: string | null = null;
  let rank = 0; // rows at or below cursor
  for (let i = 1; i < shardCount; i++) {
    const wanted = Math.round((i * count) / shardCount);
    if (wanted <= rank) continue;
    let found: string | null = null;
    while (rank < wanted) {
      const k = Math.min(wanted - rank, MAX_QUERY_ROWS);
      found = await hop(cursor, k);
      if (found === null) break; // fewer rows than counted: the last shard takes the rest
      // Keys with control characters cannot go into a filter: hop on from their expressible prefix
      // (the rows between are walked again, which only shifts the balance of the shards).
      cursor = expressibleBound(pk, found);
      rank += k;
    }
    if (found === null) break;
    // A boundary need not be a key, only a value every filter can hold; rows up to it stay in this shard.
    const boundary = expressibleBound(pk, found);
    if (boundaries.length === 0 || comparePks(pk, boundary, boundaries[boundaries.length - 1] as string) > 0) boundaries.push(boundary);
  }

  const shards: PkRange[] = [];
  let lower: string | null = null;
  for (const b of boundaries) {
    shards.push({ lowerExclusive: lower, upperInclusive: b });
    lower = b;
  }
  shards.push({ lowerExclusive: lower, upperInclusive: null });
  return shards;
}
