import { ConflictError, JobNotActiveError, PermanentError } from '../errors';
import { isTerminal } from '../jobs/model';
import { ALLOW_INSERT_AUTO_ID, copyShard as copyShardRange, countRows, describeCollection, primaryField, type CollectionSpec } from '../milvus';
import { describeExamples, duplicatesInRange, type Duplicates } from '../milvus/duplicates';
import type { Services } from '../services';
import type { CopyShardOutput, ShardInput, StepBudget } from '../workflow/steps';
import { loadActiveCollection, withClusters } from './jobContext';

const nullabilityDiffers = (source: CollectionSpec, target: CollectionSpec): boolean =>
  source.fields.some((f) => {
    const t = target.fields.find((x) => x.name === f.name);
    return t !== undefined && t.nullable !== f.nullable;
  });

/** How often a running copy looks whether its job was cancelled. */
const CANCEL_CHECK_INTERVAL_MS = 5_000;

/**
 * Checkpoints are saved at most this often, and when the step ends. Each is a DynamoDB
 * transaction; batches of 256 rows would otherwise cost one every few milliseconds. A resume
 * clears and copies again whatever was written past the last saved checkpoint, so saving less
 * often loses nothing: a crash repeats at most this much copying.
 */
const CHECKPOINT_INTERVAL_MS = 1_000;

/** `deadline`: no new batch starts after it; the step returns done=false and is called again. */
export interface CopyShardBudget extends StepBudget {
  /** Save the checkpoint at most this often (default CHECKPOINT_INTERVAL_MS; 0: after every batch). */
  checkpointIntervalMs?: number;
}

/**
 * Copies one shard's primary key range from its checkpoint on, moving the checkpoint as batches
 * are written (at most once a second, and at the end). Returns when the shard is done or the time
 * budget is spent.
 */
export async function copyShard(services: Services, input: ShardInput, budget: CopyShardBudget): Promise<CopyShardOutput> {
  const { jobId, collectionKey, shardIndex } = input;
  const { job, collection } = await loadActiveCollection(services, jobId, collectionKey);
  const shard = await services.jobs.getShard(jobId, collectionKey, shardIndex);
  if (!shard) throw new PermanentError('SHARD_NOT_PLANNED', `shard ${shardIndex} of ${collectionKey} was not planned`);
  if (shard.done) return { done: true, rowsCopied: shard.rowsCopied };
  const owner = await services.jobs.claimShard(jobId, collectionKey, shardIndex, shard.attempt);
  /**
   * Before each write to the target: this invocation still holds the shard. A copy step of a
   * failed execution can run on after it (Lambda does not stop it), and reach the target again
   * once it is back; without this it would write beside the resumed execution's copy of the same
   * range, or clear what that one wrote. The shard item is read each time (one DynamoDB read per
   * batch): a claim could come at any moment, and a write once passed cannot be taken back.
   */
  const assertOwner = async (): Promise<void> => {
    const now = await services.jobs.getShard(jobId, collectionKey, shardIndex);
    // A re-plan (a new attempt) writes new shard items, without an owner: that fails this test too.
    if (now?.owner !== owner) {
      throw new ConflictError(`${collectionKey} shard ${shardIndex + 1}/${collection.shardCount} was taken over by another copy invocation (a resume or a retry); this one stops before writing`);
    }
  };
  if (collection.status === 'CREATED') await services.jobs.updateCollection(jobId, collectionKey, { status: 'COPYING' });

  let checkpoint = shard.checkpoint;
  let rowsCopied = shard.rowsCopied;
  let lastCancelCheck = Date.now();
  /** Written to the target, not yet saved as the checkpoint. */
  let unsaved: { checkpoint: string; rows: number } | null = null;
  let savedAt = 0;
  /** Saves what was written since the last save; `done` also marks the shard done. */
  const save = async (done = false, duplicates?: Duplicates): Promise<void> => {
    if (!unsaved && !done) return;
    const next = unsaved ?? { checkpoint, rows: 0 };
    await services.jobs.checkpointShard({
      jobId,
      collectionKey,
      index: shardIndex,
      attempt: shard.attempt,
      owner,
      expectedCheckpoint: checkpoint,
      checkpoint: next.checkpoint,
      rowsDelta: next.rows,
      done,
      ...(duplicates && duplicates.rows > 0 ? { duplicates } : {}),
    });
    checkpoint = next.checkpoint;
    rowsCopied += next.rows;
    unsaved = null;
    savedAt = Date.now();
  };

  let done: boolean;
  let duplicates: Duplicates | undefined;
  try {
    ({ done, duplicates } = await withClusters(services, job, async ({ source, target }) => {
      const [sourceSpec, targetSpec] = await Promise.all([
        describeCollection(source, collection.sourceDb, collection.sourceName),
        describeCollection(target, collection.targetDb, collection.targetName),
      ]);
      // A mapping may turn the dynamic field off: the source's dynamic keys are then not read.
      sourceSpec.enableDynamicField = sourceSpec.enableDynamicField && targetSpec.enableDynamicField;
      const targetPk = primaryField(targetSpec);
      const discardKeys = targetPk.autoId && targetSpec.properties[ALLOW_INSERT_AUTO_ID] !== 'true';
      if (discardKeys) {
        // The target's generated keys cannot be cleared by source range: resume only when the shard's
        // partition (one shard each) holds exactly what its checkpoint counted.
        const held = await countRows(target, collection.targetDb, collection.targetName, shard.partition ? { partition: shard.partition } : {});
        if (held !== shard.rowsCopied) {
          throw new PermanentError(
            'AUTO_ID_RESUME_UNSAFE',
            `${collection.targetDb}.${collection.targetName}${shard.partition ? ` partition ${shard.partition}` : ''} holds ${held} row(s) but the checkpoint counted ${shard.rowsCopied}: ` +
              `a copy step died after writing rows that cannot be told apart (the target generates its keys); drop the target collection and run the job again`,
          );
        }
      }
      const range = { lowerExclusive: shard.lowerExclusive, upperInclusive: shard.upperInclusive };
      const copied = await copyShardRange({
        source,
        sourceDb: collection.sourceDb,
        sourceSpec,
        target,
        targetDb: collection.targetDb,
        targetSpec,
        range,
        ...(shard.partition ? { partition: shard.partition } : {}),
        ...(collection.append ? { appendTarget: true } : {}),
        ...(discardKeys ? { discardKeys: true } : {}),
        // A field nullable on one side only (a mapping): the SDK's row path writes the validity column the target expects.
        ...(nullabilityDiffers(sourceSpec, targetSpec) ? { path: 'rows' as const } : {}),
        checkpoint,
        batchBytes: job.options.batchBytes,
        batchRows: job.options.batchRows,
        adaptiveBatches: job.options.batchRows === undefined,
        deadline: budget.deadline,
        beforeWrite: assertOwner,
        onBatch: async (progress) => {
          unsaved = { checkpoint: progress.checkpoint, rows: (unsaved?.rows ?? 0) + progress.rows };
          // A target that generates its keys resumes only from an exact count (above): every batch is saved.
          if (discardKeys || Date.now() - savedAt >= (budget.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS)) await save();
          if (Date.now() - lastCancelCheck > CANCEL_CHECK_INTERVAL_MS) {
            lastCancelCheck = Date.now();
            const now = await services.jobs.get(jobId);
            if (!now || isTerminal(now.status)) throw new JobNotActiveError(jobId, now?.status ?? 'deleted');
          }
        },
      });
      if (!copied.done || job.type !== 'offline') return { done: copied.done, duplicates: undefined };
      // The copy read each key of the range once (a query returns one row per key); count(*) counts
      // every row, so the difference is the source's duplicate keys. Offline only: a live source's
      // count moves under the copy (online jobs count them at the cutover's verification).
      const distinct = rowsCopied + (unsaved?.rows ?? 0);
      const side = { cluster: source, db: collection.sourceDb, spec: sourceSpec, ...(shard.partition ? { partition: shard.partition } : {}) };
      return { done: true, duplicates: await duplicatesInRange(side, range, distinct) };
    }));
  } catch (error) {
    // The batches written before the failure are saved, so the retry does not clear and copy them
    // again (milvus-lite, for one, cannot delete keys holding a quote). A killed process saves
    // nothing: its retry clears what lies past the last checkpoint.
    await save().catch(() => undefined);
    throw error;
  }

  await save(done, duplicates);
  if (done) {
    const duplicated = duplicates && duplicates.rows > 0 ? duplicates : undefined;
    await services.jobs.appendEvent(jobId, {
      type: 'ShardCopied',
      message:
        `${collectionKey} shard ${shardIndex + 1}/${collection.shardCount}${shard.partition ? ` (partition ${shard.partition})` : ''}: ${rowsCopied} row(s)` +
        (duplicated ? `; the source holds ${duplicated.rows} duplicate key(s) in its range (e.g. ${describeExamples(duplicated.examples, duplicated.rows)}), copied once each` : ''),
      details: {
        collection: collectionKey,
        shard: shardIndex,
        rows: rowsCopied,
        ...(shard.partition ? { partition: shard.partition } : {}),
        ...(duplicated ? { duplicateKeys: duplicated.rows, duplicateExamples: duplicated.examples } : {}),
      },
    });
  }
  return { done, rowsCopied };
}
