import type { CollectionProgress, JobWithCollections, ShardRecord } from '../jobs/model';
import { describeCollection, type CollectionSpec } from '../milvus';
import { syncRange, type RangeSyncResult } from './rangeSync';
import { CycleAbandoned, SNAPSHOT_DIFF, type CycleContext, type CycleOutcome, type SyncStrategy } from './strategy';

export { SNAPSHOT_DIFF };

/**
 * Pages of a sync read are capped at 1 MiB (and at the job's batchRows): a query's time grows much
 * faster than its page on milvus-lite (measured: 20,000 rows of 128-d compared in 2.2 s with
 * 128 KiB-1 MiB pages, 13-36 s with 4 MiB; `npm run bench:sync` times a pass), and a cycle's
 * length is the lag.
 */
const SYNC_PAGE_BYTES = 1024 * 1024;

/** The key of a shard's digest in SyncState.targetDigests. */
const shardDigestKey = (shard: Pick<ShardRecord, 'collectionKey' | 'index'>): string => `${shard.collectionKey}#${shard.index}`;

interface CollectionPlan {
  collection: CollectionProgress;
  sourceSpec: CollectionSpec;
  targetSpec: CollectionSpec;
  shards: ShardRecord[];
}

/**
 * Each cycle reads every planned primary key range (the full copy's shards) on both sides with
 * Strong consistency and makes the target range equal to the source range (lib/sync/rangeSync.ts).
 * Nothing is kept between cycles but one digest per shard of what the sync left on the target,
 * which tells a write made to the target by someone else. A cycle's cost grows with the data, not
 * with the write rate: the lag it gives is about the time to read both sides once.
 */
export class SnapshotDiffStrategy implements SyncStrategy {
  readonly name = SNAPSHOT_DIFF;
  /** Shards do not change during sync; read once per invocation. */
  private shards = new Map<string, ShardRecord[]>();

  async runCycle({ services, job, clusters, apply, abandon, onlyShards, onDifference }: CycleContext): Promise<CycleOutcome> {
    const startedAt = services.now();
    const plans = await this.plan(services, job, clusters);
    const previous = job.sync?.targetDigests ?? {};
    const outcome: CycleOutcome = { startedAt, endedAt: startedAt, rowsCompared: 0, inserted: 0, updated: 0, deleted: 0, externalWrites: [], sampleKeys: [], targetDigests: {}, changedShards: [] };

    const work = plans.flatMap((plan) => plan.shards.map((shard) => ({ plan, shard }))).filter(({ shard }) => !onlyShards || onlyShards.has(shardDigestKey(shard)));
    const concurrency = Math.max(1, job.options.shardConcurrency);
    let next = 0;
    let abandoned = false;
    const worker = async () => {
      while (next < work.length && !abandoned) {
        if (abandon && (await abandon())) {
          abandoned = true;
          break;
        }
        // Another worker may have taken the last shard while this one asked.
        const item = work[next++];
        if (!item) break;
        const { plan, shard } = item;
        const { collection, sourceSpec, targetSpec } = plan;
        const result: RangeSyncResult = await syncRange({
          source: clusters.source,
          sourceDb: collection.sourceDb,
          sourceSpec,
          target: clusters.target,
          targetDb: collection.targetDb,
          targetSpec,
          range: { lowerExclusive: shard.lowerExclusive, upperInclusive: shard.upperInclusive },
          ...(shard.partition ? { partition: shard.partition } : {}),
          batchBytes: Math.min(job.options.batchBytes, SYNC_PAGE_BYTES),
          batchRows: job.options.batchRows,
          apply,
          // Another worker failed or gave up: this one stops too.
          ...(onDifference ? { onDifference: (pk: string) => onDifference(collection.key, pk) } : {}),
          abandon: async () => abandoned || (abandon !== undefined && (abandoned = await abandon())),
        }).catch((error: unknown) => {
          abandoned = true;
          throw error;
        });
        const key = shardDigestKey(shard);
        const expected = previous[key];
        if (expected !== undefined && expected !== result.targetDigestBefore) outcome.externalWrites.push(`${collection.targetDb}.${collection.targetName} (shard ${shard.index})`);
        outcome.targetDigests![key] = apply ? result.sourceDigest : result.targetDigestBefore;
        if (result.inserted + result.updated + result.deleted > 0) outcome.changedShards!.push(key);
        outcome.rowsCompared += result.rowsCompared;
        outcome.inserted += result.inserted;
        outcome.updated += result.updated;
        outcome.deleted += result.deleted;
        for (const pk of result.sampleKeys) if (outcome.sampleKeys.length < 10) outcome.sampleKeys.push(`${collection.key}:${pk}`);
      }
    };
    // Every worker ends before the cycle does (none left writing behind an abandoned or failed cycle).
    const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, work.length) }, worker));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof CycleAbandoned));
    if (failure) throw failure.reason;
    if (abandoned || settled.some((r) => r.status === 'rejected')) throw new CycleAbandoned();
    outcome.endedAt = services.now();
    if (!onlyShards) outcome.comparedEveryRowAt = startedAt;
    return outcome;
  }

  private async plan(services: CycleContext['services'], job: JobWithCollections, clusters: CycleContext['clusters']): Promise<CollectionPlan[]> {
    const plans: CollectionPlan[] = [];
    for (const collection of Object.values(job.collections)) {
      let shards = this.shards.get(collection.key);
      if (!shards) {
        shards = (await services.jobs.listShards(job.jobId, collection.key)).filter((s) => s.attempt === collection.attempt);
        this.shards.set(collection.key, shards);
      }
      // Described every cycle: cheap next to reading the rows, and a schema that moved is caught by the guards anyway.
      const [sourceSpec, targetSpec] = await Promise.all([
        describeCollection(clusters.source, collection.sourceDb, collection.sourceName),
        describeCollection(clusters.target, collection.targetDb, collection.targetName),
      ]);
      plans.push({ collection, sourceSpec, targetSpec, shards });
    }
    return plans;
  }
}
