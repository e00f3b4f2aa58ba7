import { PermanentError } from '../errors';
import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { recordCycle } from './recordCycle';
import { assertSourceUnchanged } from './sourceGuard';
import { syncStrategyFor } from './syncStrategies';

/** Cycles after the confirmation that may still find changes before the source counts as still written to. */
const MAX_DRAIN_CYCLES = 5;

/**
 * Online, after stop-sync: runs cycles until one finds nothing to change. That last cycle compared
 * every row of every collection, with writes stopped: the target equals the source. A source that
 * keeps changing fails the job (WRITES_NOT_STOPPED) rather than cut over to a target that is behind.
 */
export async function drainChanges(services: Services, { jobId }: JobInput): Promise<{ cycles: number; rowsCompared: number }> {
  let job = await loadActiveJob(services, jobId);
  const strategy = syncStrategyFor(job);
  const lastEventAt = { at: 0 };
  return withClusters(services, job, async (clusters) => {
    for (let cycles = 1; cycles <= MAX_DRAIN_CYCLES; cycles += 1) {
      job = await loadActiveJob(services, jobId);
      await assertSourceUnchanged(clusters.source, job, services.now());
      const cycle = await strategy.runCycle({ services, job, clusters, apply: true });
      job = await recordCycle(services, job, cycle, lastEventAt);
      const changed = cycle.inserted + cycle.updated + cycle.deleted;
      if (changed === 0) {
        await services.jobs.appendEvent(jobId, {
          type: 'SyncDrained',
          message: `no change left after ${cycles} cycle(s): all ${cycle.rowsCompared} row(s) compared equal`,
          details: { cycles, rowsCompared: cycle.rowsCompared },
        });
        return { cycles, rowsCompared: cycle.rowsCompared };
      }
      if (cycles === MAX_DRAIN_CYCLES) {
        throw new PermanentError(
          'WRITES_NOT_STOPPED',
          `the source still changes after writes were confirmed stopped: ${changed} row(s) changed in cycle ${cycles} of the drain (e.g. ${cycle.sampleKeys.slice(0, 3).join(', ')}); stop every writer and run the migration again`,
        );
      }
    }
    throw new Error('unreachable');
  });
}
