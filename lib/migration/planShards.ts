import { planCopyBatches, type PlannedCollection } from '../copyBatches';
import type { CollectionProgress, ShardRecord } from '../jobs/model';
import { countRows, describeCollection, hasUserPartitions, planShards as planShardRanges, type PkRange } from '../milvus';
import { mapInOrder } from '../concurrency';
import type { Services } from '../services';
import { concurrencyByPartition } from '../shardPlan';
import type { JobInput, PlanShardsOutput } from '../workflow/steps';
import { loadActiveJob, withClusters } from './jobContext';
import { mappingOf } from './targetSpec';

/** Collections planned at once: each is a few round trips to the source and the table. */
const PLAN_CONCURRENCY = 8;

/** Collections an event names; the rest are counted. */
const LISTED = 20;

function plannedMessage(collections: PlannedCollection[]): string {
  if (collections.length === 0) return 'nothing to copy';
  const named = collections.slice(0, LISTED).map((c) => `${c.collectionKey}: ${c.shards.length} shard(s)`).join(', ');
  return collections.length > LISTED ? `${named} and ${collections.length - LISTED} more collection(s)` : named;
}

/** Collections that need new shards: new ones, and the ones verification sent back. */
const needsPlan = (collection: CollectionProgress) => collection.status === 'PENDING' || collection.status === 'RECOPY';
/**
 * Collections whose copy started under an earlier execution (a retry, a resume): their shards and
 * checkpoints stand. COPIED ones too: BuildIndexes had not finished with them (their shards are done).
 */
const inCopy = (collection: CollectionProgress) => collection.status === 'CREATED' || collection.status === 'COPYING' || collection.status === 'COPIED';

/**
 * Splits every collection that needs a copy into primary key ranges of at most about
 * `options.rowsPerShard` rows, and into `options.shardConcurrency` ranges at least when the
 * collection has the rows for them (lib/shardPlan.ts), so a collection of any size is copied by
 * every stream the job may run. Stores them as shards with empty checkpoints, cuts the work into
 * copy batches of bounded size (lib/copyBatches.ts), stores those too, and hands the state machine
 * only the batch numbers to fan out over, so its payload stays small whatever the job's size.
 * Collections already being copied keep their shards, so a job run again resumes from its checkpoints.
 */
export async function planShards(services: Services, { jobId }: JobInput): Promise<PlanShardsOutput> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'PLANNING' });
  const pending = Object.values(job.collections).filter(needsPlan);
  const collections: PlannedCollection[] = [];
  const resumed = await mapInOrder(Object.values(job.collections).filter(inCopy), PLAN_CONCURRENCY, async (collection) => {
    const shards = await services.jobs.listShards(jobId, collection.key);
    return { collectionKey: collection.key, shards: shards.map((s) => s.index) };
  });
  collections.push(...resumed);

  await withClusters(services, job, async ({ source }) => {
    const planned = await mapInOrder(pending, PLAN_CONCURRENCY, async (collection) => {
      const spec = await describeCollection(source, collection.sourceDb, collection.sourceName);
      // With partitions besides _default, every partition is planned on its own, so each row is
      // written into the partition of the same name on the target.
      const ranges: Array<PkRange & { partition?: string }> = [];
      // A target that generates its keys cannot be cleared by source key range on resume: one shard per partition,
      // so the rows a shard wrote can be counted (lib/migration/copyShard.ts).
      const oneShard = mappingOf(job, collection)?.autoId === true;
      const rowsPerShard = oneShard ? Number.MAX_SAFE_INTEGER : job.options.rowsPerShard;
      const concurrency = oneShard ? 1 : job.options.shardConcurrency;
      if (hasUserPartitions(spec)) {
        const partitions = spec.partitions ?? [];
        // The collection's streams are shared out by rows, not given to every partition in full.
        const counts = concurrency === 1 ? partitions.map(() => 0) : await Promise.all(partitions.map((partition) => countRows(source, collection.sourceDb, spec.name, { readOnly: true, partition })));
        const shares = concurrencyByPartition(counts, concurrency);
        for (const [i, partition] of partitions.entries()) {
          const inPartition = await planShardRanges(source, collection.sourceDb, spec, { rowsPerShard, concurrency: shares[i], partition });
          ranges.push(...inPartition.map((range) => ({ ...range, partition })));
        }
      } else {
        ranges.push(...(await planShardRanges(source, collection.sourceDb, spec, { rowsPerShard, concurrency })));
      }
      const at = services.now().toISOString();
      const shards: ShardRecord[] = ranges.map((range, index) => ({
        jobId,
        collectionKey: collection.key,
        index,
        lowerExclusive: range.lowerExclusive,
        upperInclusive: range.upperInclusive,
        ...(range.partition ? { partition: range.partition } : {}),
        checkpoint: null,
        rowsCopied: 0,
        done: false,
        attempt: collection.attempt,
        updatedAt: at,
      }));
      await services.jobs.replaceShards(jobId, collection.key, shards);
      await services.jobs.updateCollection(jobId, collection.key, { shardCount: shards.length, rowsCopied: 0 });
      return { collectionKey: collection.key, shards: shards.map((s) => s.index) };
    });
    collections.push(...planned);
  });

  const batches = planCopyBatches(collections);
  await services.jobs.putCopyBatches(jobId, batches);
  await services.jobs.update(jobId, { phase: 'FULL_COPY' });
  await services.jobs.appendEvent(jobId, {
    type: 'ShardsPlanned',
    message: plannedMessage(collections),
    // The first collections only: an event is an item of its own, under DynamoDB's 400 KB whatever the job's size.
    details: {
      shards: Object.fromEntries(collections.slice(0, LISTED).map((c) => [c.collectionKey, c.shards.length])),
      collections: collections.length,
      totalShards: collections.reduce((sum, c) => sum + c.shards.length, 0),
      batches: batches.length,
    },
  });
  return { batches: batches.map((batch) => batch.number), shardConcurrency: job.options.shardConcurrency };
}
