import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { recordCycle } from './recordCycle';
import { assertSourceUnchanged, explainedBySourceChange } from './sourceGuard';
import { syncStrategyFor } from './syncStrategies';

/**
 * Online, after stop-sync: one last cycle, started after the writes stopped, brings the target to
 * the source's final state. When it finds nothing to change it was also a full comparison with
 * writes stopped, and VerifySync only counts; otherwise VerifySync compares again the shards the
 * drain changed.
 */
export async function drainChanges(services: Services, { jobId }: JobInput): Promise<{ rowsCompared: number; changed: number }> {
  const job = await loadActiveJob(services, jobId);
  return withClusters(services, job, async (clusters) => {
    await assertSourceUnchanged(clusters.source, job, services.now());
    const cycle = await explainedBySourceChange(clusters.source, job, () => services.now(), () => syncStrategyFor(job).runCycle({ services, job, clusters, apply: true }));
    await recordCycle(services, job, cycle, { at: 0 });
    const changed = cycle.inserted + cycle.updated + cycle.deleted;
    await services.jobs.appendEvent(jobId, {
      type: 'SyncDrained',
      message: `last cycle after the writes stopped: ${cycle.rowsCompared} row(s) compared, ${cycle.inserted} inserted, ${cycle.updated} updated, ${cycle.deleted} deleted`,
      details: { rowsCompared: cycle.rowsCompared, inserted: cycle.inserted, updated: cycle.updated, deleted: cycle.deleted },
    });
    return { rowsCompared: cycle.rowsCompared, changed };
  });
}
