import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { DrainChangesOutput, JobInput, StepBudget } from '../workflow/steps';
import { passOf, PassPaused, savingProgress } from './comparisonPass';
import { recordCycle } from './recordCycle';
import { guardedCycle } from './sourceGuard';
import { syncStrategyFor } from './syncStrategies';
import { switchesOver, switchOver } from './switchover';

/**
 * Online, after stop-sync: one last cycle, started after the writes stopped, brings the target to
 * the source's final state. When it finds nothing to change it was also a full comparison with
 * writes stopped, and VerifySync only counts; otherwise VerifySync compares again the shards the
 * drain changed. With switchover (strategy capture) the drain applies the change log only, then
 * switches the capture endpoints to the target; VerifySync compares every row after that
 * (lib/sync/switchover.ts).
 */
export async function drainChanges(services: Services, { jobId }: JobInput, budget: StepBudget = { deadline: Infinity }): Promise<DrainChangesOutput> {
  const job = await loadActiveJob(services, jobId);
  // A retry after the switch: the drain is done, and the log now holds writes made to the target.
  if (job.sync?.switchedAt) return { done: true, rowsCompared: 0, changed: 0 };
  return withClusters(services, job, async (clusters) => {
    const resumable = { purpose: 'drain' as const, deadline: budget.deadline, checkpoint: passOf(job, 'drain'), onProgress: savingProgress(services, jobId, ['CUTTING_OVER']) };
    let cycle;
    try {
      cycle = await guardedCycle(clusters.source, job, () => services.now(), () => syncStrategyFor(job).runCycle({ services, job, clusters, apply: true, resumable }));
    } catch (error) {
      // Its comparison of every row goes on in the next invocation (the state machine calls the step again).
      if (error instanceof PassPaused) return { done: false, rowsCompared: error.checkpoint.rowsCompared, changed: error.checkpoint.inserted + error.checkpoint.updated + error.checkpoint.deleted };
      throw error;
    }
    const recorded = await recordCycle(services, job, cycle, { at: 0 });
    const changed = cycle.inserted + cycle.updated + cycle.deleted;
    await services.jobs.appendEvent(jobId, {
      type: 'SyncDrained',
      message: `last cycle after the writes stopped: ${cycle.rowsCompared} row(s) ${switchesOver(job) ? 'read again from the source' : 'compared'}, ${cycle.inserted} inserted, ${cycle.updated} updated, ${cycle.deleted} deleted${(cycle.invocations ?? 1) > 1 ? ` (its comparison of every row took ${cycle.invocations} invocations)` : ''}`,
      details: { rowsCompared: cycle.rowsCompared, inserted: cycle.inserted, updated: cycle.updated, deleted: cycle.deleted, ...(cycle.invocations ? { invocations: cycle.invocations } : {}) },
    });
    if (switchesOver(job)) await switchOver(services, recorded);
    return { done: true, rowsCompared: cycle.rowsCompared, changed };
  });
}
