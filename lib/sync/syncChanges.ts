import { PermanentError } from '../errors';
import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput, StepBudget, SyncChangesOutput } from '../workflow/steps';
import { syncLagSeconds } from './lag';
import { recordCycle } from './recordCycle';
import { guardedCycle } from './sourceGuard';

import { passOf, PassPaused, savingProgress } from './comparisonPass';
import { CycleAbandoned, newDigestEpoch } from './strategy';
import { syncStrategyFor } from './syncStrategies';

/** `deadline`: no new cycle (or comparison shard) starts after it; the state machine waits, then calls the step again. */
export interface SyncBudget extends StepBudget {
  /** Told the lag after every recorded cycle, with the cycle's number (one invocation runs many: the caller's metric samples each). */
  onCycleRecorded?: (syncLagSeconds: number, cycle: number) => void;
}

/** After a cycle that found nothing, the next one waits this long: an idle source is not read in a tight loop. */
const IDLE_PAUSE_MS = 1_000;

/** How often a running cycle looks for a stop-sync or a cancel (between shards). */
const STOP_CHECK_INTERVAL_MS = 1_000;

/** Whether the operator confirmed the writes stopped (or cancelled) since the cycle started: asked between shards, at most once a second. */
function stopRequested(services: Services, jobId: string): () => Promise<boolean> {
  let checkedAt = Date.now();
  return async () => {
    if (Date.now() - checkedAt < STOP_CHECK_INTERVAL_MS) return false;
    checkedAt = Date.now();
    const job = await services.jobs.get(jobId);
    return !job || job.status !== 'SYNCING';
  };
}

/**
 * Online: runs sync cycles back to back until the time budget is spent, the operator confirms that
 * writes stopped (status CUTTING_OVER), or the sync deadline passes (the job fails). Beside every
 * cycle the source is checked against the baseline taken at the job's start (sourceGuard.guardedCycle).
 */
export async function syncChanges(services: Services, { jobId }: JobInput, budget: SyncBudget): Promise<SyncChangesOutput> {
  const first = await loadActiveJob(services, jobId);
  const strategy = syncStrategyFor(first);
  const lastEventAt = { at: 0 };
  return withClusters(services, first, async (clusters) => {
    try {
      return await syncLoop();
    } finally {
      // A comparison left running beside the cycles ends before the step does (between shards).
      await strategy.stop?.().catch(() => undefined);
    }

    async function syncLoop(): Promise<SyncChangesOutput> {
      for (;;) {
        // Re-read between cycles: a cancel ends the step, a stop-sync ends the loop.
        let job = await loadActiveJob(services, jobId);
        const now = services.now();
        const waitSeconds = job.options.lagPollSeconds;
        if (job.status === 'CUTTING_OVER') return { state: 'WRITES_STOPPED', syncLagSeconds: syncLagSeconds(job, now), waitSeconds };
        if (!job.sync) throw new PermanentError('SYNC_NOT_STARTED', `job ${jobId} has no sync state; StartSync did not run`);
        if (now.getTime() > Date.parse(job.sync.deadlineAt)) {
          throw new PermanentError(
            'SYNC_DEADLINE_PASSED',
            `sync ran from ${job.sync.startedAt} to its deadline ${job.sync.deadlineAt} (options.syncTimeoutSeconds ${job.options.syncTimeoutSeconds}) without confirmation that writes to the source stopped; the target was left as last synced`,
          );
        }
        let cycle;
        try {
          cycle = await guardedCycle(clusters.source, job, () => services.now(), () =>
            strategy.runCycle({ services, job, clusters, apply: true, abandon: stopRequested(services, jobId), resumable: { purpose: 'sync', deadline: budget.deadline, checkpoint: passOf(job, 'sync'), onProgress: savingProgress(services, jobId, ['SYNCING', 'CUTTING_OVER']) } }),
          );
        } catch (error) {
          // A comparison of every row longer than this invocation: the next one goes on from its checkpoint.
          if (error instanceof PassPaused) return { state: 'SYNCING', syncLagSeconds: syncLagSeconds(job, services.now()), waitSeconds };
          if (!(error instanceof CycleAbandoned)) throw error;
          // Part of a shard may have been written: the shard digests no longer say what the sync left
          // on the target, so the next pass does not compare with them (no false "written by others").
          await services.jobs.update(jobId, { sync: { ...job.sync, digestEpoch: newDigestEpoch() } }, ['SYNCING', 'CUTTING_OVER']).catch(() => undefined);
          continue; // the loop's next turn sees CUTTING_OVER (or the cancel)
        }
        job = { ...(await recordCycle(services, job, cycle, lastEventAt)), collections: job.collections };
        const lag = syncLagSeconds(job, services.now());
        if (lag !== null) budget.onCycleRecorded?.(lag, job.sync?.cycles ?? 0);
        // Past the budget, cycles go on while a comparison beside them ends its shards in flight and is recorded.
        const busy = strategy.busy?.() ?? false;
        if (Date.now() >= budget.deadline && !busy) return { state: 'SYNCING', syncLagSeconds: lag, waitSeconds };
        if (cycle.inserted + cycle.updated + cycle.deleted === 0) await new Promise((resolve) => setTimeout(resolve, busy ? IDLE_PAUSE_MS : Math.min(IDLE_PAUSE_MS, Math.max(0, budget.deadline - Date.now()))));
      }
    }
  });
}
