import type { CollectionProgress, JobWithCollections, PassCheckpoint, ShardRecord } from '../jobs/model';
import { comparedBefore, PassPaused, startPass, withShard } from './comparisonPass';
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

/** A shard's name in messages and in a pass's changed shards. */
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
  /** Digests this instance kept since it read the shards, by shard: newer than the shard items it read. */
  private readonly digests = new Map<string, { epoch: string; value: string }>();

  /**
   * `targetDigests: false`: keep no shard digest and compare with none (the capture strategy's
   * comparisons: its log cycles write the target between two of them, so a digest would say nothing).
   */
  constructor(private readonly options: { targetDigests: boolean } = { targetDigests: true }) {}

  async runCycle({ services, job, clusters, apply, abandon, onlyShards, onDifference, resumable }: CycleContext): Promise<CycleOutcome> {
    const plans = await this.plan(services, job, clusters);
    // Digests of another epoch (an earlier sync, a pass abandoned half written) are forgotten.
    const epoch = this.options.targetDigests ? job.sync?.digestEpoch : undefined;
    const keptDigest = (shard: ShardRecord): string | undefined => {
      const kept = this.digests.get(shardDigestKey(shard)) ?? shard.targetDigest;
      return epoch !== undefined && kept?.epoch === epoch ? kept.value : undefined;
    };
    // One fixed order (collections by key, shards by index), so a checkpoint's positions name the same shards in every invocation.
    const work = plans
      .flatMap((plan) => plan.shards.map((shard) => ({ plan, shard })))
      .filter(({ shard }) => !onlyShards || onlyShards.has(shardDigestKey(shard)))
      .sort((a, b) => (a.plan.collection.key < b.plan.collection.key ? -1 : a.plan.collection.key > b.plan.collection.key ? 1 : a.shard.index - b.shard.index));
    // The caller gives the pass of its own purpose (comparisonPass.passOf); one over other shards is not resumed.
    const resumed = resumable?.checkpoint?.shards === work.length ? resumable.checkpoint : undefined;
    const startedAt = resumed ? new Date(resumed.startedAt) : services.now();
    // Kept only for a pass that may span invocations.
    let progress: PassCheckpoint | undefined = resumed ? { ...resumed, invocations: resumed.invocations + 1 } : resumable ? startPass(resumable.purpose, startedAt, work.length) : undefined;
    const outcome: CycleOutcome = { startedAt, endedAt: startedAt, rowsCompared: 0, inserted: 0, updated: 0, deleted: 0, externalWrites: [], sampleKeys: [], changedShards: [] };
    const pending = [...work.keys()].filter((i) => !resumed || !comparedBefore(resumed, i));

    const concurrency = Math.max(1, job.options.shardConcurrency);
    let next = 0;
    let started = 0;
    let slowestMs = 0;
    let abandoned = false;
    let paused = false;
    let saved: Promise<void> = Promise.resolve();
    const worker = async () => {
      while (next < pending.length && !abandoned && !paused) {
        if (abandon && (await abandon())) {
          abandoned = true;
          break;
        }
        // No shard starts that would not end by the deadline, judged by the slowest one of this
        // invocation; but each invocation compares at least one: the pass always advances.
        if (resumable && started > 0 && Date.now() + slowestMs >= resumable.deadline) {
          paused = true;
          break;
        }
        // Another worker may have taken the last shard while this one asked.
        const position = pending[next++];
        if (position === undefined) break;
        started += 1;
        const shardStartedAt = Date.now();
        const { plan, shard } = work[position]!;
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
        slowestMs = Math.max(slowestMs, Date.now() - shardStartedAt);
        const key = shardDigestKey(shard);
        const expected = keptDigest(shard);
        const externalWrite = expected !== undefined && expected !== result.targetDigestBefore ? `${collection.targetDb}.${collection.targetName} (shard ${shard.index})` : undefined;
        if (externalWrite) outcome.externalWrites.push(externalWrite);
        if (apply && epoch !== undefined) {
          // What the sync left in the range, on the shard's own item (before the checkpoint that says the shard is compared).
          const digest = { epoch, value: result.sourceDigest };
          await services.jobs.setShardDigest(job.jobId, shard.collectionKey, shard.index, shard.attempt, digest);
          this.digests.set(key, digest);
        }
        if (result.inserted + result.updated + result.deleted > 0) outcome.changedShards!.push(key);
        outcome.rowsCompared += result.rowsCompared;
        outcome.inserted += result.inserted;
        outcome.updated += result.updated;
        outcome.deleted += result.deleted;
        for (const pk of result.sampleKeys) if (outcome.sampleKeys.length < 10) outcome.sampleKeys.push(`${collection.key}:${pk}`);
        if (resumable && progress) {
          progress = withShard(progress, { position, key, ...result, sampleKeys: result.sampleKeys.map((pk) => `${collection.key}:${pk}`), ...(externalWrite ? { externalWrite } : {}) });
          const checkpoint = progress;
          // One save at a time, in order: a later checkpoint never lands before an earlier one.
          saved = saved.then(() => resumable.onProgress(checkpoint));
          // A checkpoint that cannot be saved (the job was cancelled meanwhile) stops the pass; its error is thrown below.
          saved.catch(() => (paused = true));
        }
      }
    };
    // Every worker ends before the cycle does (none left writing behind an abandoned or failed cycle).
    const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
    // The checkpoints settle too (one may fail when the job was cancelled meanwhile): none is left unawaited.
    const saveFailure = await saved.then(() => undefined, (error: unknown) => ({ error }));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof CycleAbandoned));
    if (failure) throw failure.reason;
    if (abandoned || settled.some((r) => r.status === 'rejected')) throw new CycleAbandoned();
    if (saveFailure) throw saveFailure.error;
    if (paused && progress && progress.next < work.length) throw new PassPaused(progress);
    outcome.endedAt = services.now();
    if (resumed && progress) {
      // The pass's totals, over every invocation.
      Object.assign(outcome, { rowsCompared: progress.rowsCompared, inserted: progress.inserted, updated: progress.updated, deleted: progress.deleted, sampleKeys: progress.sampleKeys, changedShards: progress.changedShards, externalWrites: progress.externalWrites });
    }
    if (!onlyShards) outcome.comparedEveryRowAt = startedAt;
    if (progress) outcome.invocations = progress.invocations;
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
