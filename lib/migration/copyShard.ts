import { JobNotActiveError, PermanentError } from '../errors';
import { isTerminal } from '../jobs/model';
import { copyShard as copyShardRange, describeCollection } from '../milvus';
import type { Services } from '../services';
import type { CopyShardOutput, ShardInput } from '../workflow/steps';
import { collectionOf, loadActiveJob, withClusters } from './jobContext';

/** How often a running copy looks whether its job was cancelled. */
const CANCEL_CHECK_INTERVAL_MS = 5_000;

export interface CopyShardBudget {
  /** Epoch ms after which no new batch starts; the step returns done=false and is called again. */
  deadline: number;
}

/**
 * Copies one shard's primary key range from its checkpoint on, moving the checkpoint after every
 * batch. Returns when the shard is done or the time budget is spent.
 */
export async function copyShard(services: Services, input: ShardInput, budget: CopyShardBudget): Promise<CopyShardOutput> {
  const { jobId, collectionKey, shardIndex } = input;
  const job = await loadActiveJob(services, jobId);
  const collection = collectionOf(job, collectionKey);
  const shard = await services.jobs.getShard(jobId, collectionKey, shardIndex);
  if (!shard) throw new PermanentError('SHARD_NOT_PLANNED', `shard ${shardIndex} of ${collectionKey} was not planned`);
  if (shard.done) return { done: true, rowsCopied: shard.rowsCopied };
  if (collection.status === 'CREATED') await services.jobs.updateCollection(jobId, collectionKey, { status: 'COPYING' });

  let checkpoint = shard.checkpoint;
  let rowsCopied = shard.rowsCopied;
  let lastCancelCheck = Date.now();

  const { done } = await withClusters(services, job, async ({ source, target }) => {
    const [sourceSpec, targetSpec] = await Promise.all([
      describeCollection(source, collection.sourceDb, collection.sourceName),
      describeCollection(target, collection.targetDb, collection.targetName),
    ]);
    return copyShardRange({
      source,
      sourceDb: collection.sourceDb,
      sourceSpec,
      target,
      targetDb: collection.targetDb,
      targetSpec,
      range: { lowerExclusive: shard.lowerExclusive, upperInclusive: shard.upperInclusive },
      checkpoint,
      batchBytes: job.options.batchBytes,
      deadline: budget.deadline,
      onBatch: async (progress) => {
        await services.jobs.checkpointShard({
          jobId,
          collectionKey,
          index: shardIndex,
          attempt: shard.attempt,
          expectedCheckpoint: checkpoint,
          checkpoint: progress.checkpoint,
          rowsDelta: progress.rows,
          done: false,
        });
        checkpoint = progress.checkpoint;
        rowsCopied += progress.rows;
        if (Date.now() - lastCancelCheck > CANCEL_CHECK_INTERVAL_MS) {
          lastCancelCheck = Date.now();
          const now = await services.jobs.get(jobId);
          if (!now || isTerminal(now.status)) throw new JobNotActiveError(jobId, now?.status ?? 'deleted');
        }
      },
    });
  });

  if (done) {
    await services.jobs.checkpointShard({
      jobId,
      collectionKey,
      index: shardIndex,
      attempt: shard.attempt,
      expectedCheckpoint: checkpoint,
      checkpoint,
      rowsDelta: 0,
      done: true,
    });
    await services.jobs.appendEvent(jobId, {
      type: 'ShardCopied',
      message: `${collectionKey} shard ${shardIndex + 1}/${collection.shardCount}: ${rowsCopied} row(s)`,
      details: { collection: collectionKey, shard: shardIndex, rows: rowsCopied },
    });
  }
  return { done, rowsCopied };
}
