import type { CollectionProgress, ShardRecord } from '../jobs/model';
import { describeCollection, hasUserPartitions, planShards as planShardRanges, type PkRange } from '../milvus';
import type { Services } from '../services';
import type { JobInput, PlanShardsOutput } from '../workflow/steps';
import { loadActiveJob, withClusters } from './jobContext';
import { mappingOf } from './targetSpec';

/** Collections that need new shards: new ones, and the ones verification sent back. */
const needsPlan = (collection: CollectionProgress) => collection.status === 'PENDING' || collection.status === 'RECOPY';
/**
 * Collections whose copy started under an earlier execution (a retry, a resume): their shards and
 * checkpoints stand. COPIED ones too: BuildIndexes had not finished with them (their shards are done).
 */
const inCopy = (collection: CollectionProgress) => collection.status === 'CREATED' || collection.status === 'COPYING' || collection.status === 'COPIED';

/**
 * Splits every collection that needs a copy into primary key ranges of about
 * `options.rowsPerShard` rows, stores them as shards with empty checkpoints, and hands the
 * state machine the shard indexes to fan out over. Collections already being copied keep their
 * shards, so a job run again resumes from its checkpoints.
 */
export async function planShards(services: Services, { jobId }: JobInput): Promise<PlanShardsOutput> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'PLANNING' });
  const pending = Object.values(job.collections).filter(needsPlan);
  const output: PlanShardsOutput = { collections: [], shardConcurrency: job.options.shardConcurrency };
  for (const collection of Object.values(job.collections).filter(inCopy)) {
    const shards = await services.jobs.listShards(jobId, collection.key);
    output.collections.push({ collectionKey: collection.key, shards: shards.map((s) => s.index) });
  }

  await withClusters(services, job, async ({ source }) => {
    for (const collection of pending) {
      const spec = await describeCollection(source, collection.sourceDb, collection.sourceName);
      // With partitions besides _default, every partition is planned on its own, so each row is
      // written into the partition of the same name on the target.
      const ranges: Array<PkRange & { partition?: string }> = [];
      // A target that generates its keys cannot be cleared by source key range on resume: one shard per partition,
      // so the rows a shard wrote can be counted (lib/migration/copyShard.ts).
      const rowsPerShard = mappingOf(job, collection)?.autoId ? Number.MAX_SAFE_INTEGER : job.options.rowsPerShard;
      if (hasUserPartitions(spec)) {
        for (const partition of spec.partitions ?? []) {
          const inPartition = await planShardRanges(source, collection.sourceDb, spec, { rowsPerShard, partition });
          ranges.push(...inPartition.map((range) => ({ ...range, partition })));
        }
      } else {
        ranges.push(...(await planShardRanges(source, collection.sourceDb, spec, { rowsPerShard })));
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
      output.collections.push({ collectionKey: collection.key, shards: shards.map((s) => s.index) });
    }
  });

  await services.jobs.update(jobId, { phase: 'FULL_COPY' });
  await services.jobs.appendEvent(jobId, {
    type: 'ShardsPlanned',
    message: output.collections.map((c) => `${c.collectionKey}: ${c.shards.length} shard(s)`).join(', ') || 'nothing to copy',
    details: { shards: Object.fromEntries(output.collections.map((c) => [c.collectionKey, c.shards.length])) },
  });
  return output;
}
