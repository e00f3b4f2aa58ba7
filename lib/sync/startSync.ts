import type { SyncState } from '../jobs/model';
import { loadActiveJob } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { SNAPSHOT_DIFF } from './strategy';

/** Online: the full copy is done; the job becomes SYNCING and its sync deadline starts. Idempotent. */
export async function startSync(services: Services, { jobId }: JobInput): Promise<{ deadlineAt: string }> {
  const job = await loadActiveJob(services, jobId);
  if (job.sync) return { deadlineAt: job.sync.deadlineAt };
  const now = services.now();
  const sync: SyncState = {
    strategy: SNAPSHOT_DIFF,
    startedAt: now.toISOString(),
    deadlineAt: new Date(now.getTime() + job.options.syncTimeoutSeconds * 1000).toISOString(),
    cycles: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
  };
  await services.jobs.update(jobId, { status: 'SYNCING', phase: 'INCREMENTAL_SYNC', sync }, ['IN_PROGRESS']);
  await services.jobs.appendEvent(jobId, {
    type: 'SyncStarted',
    message: `full copy done; keeping the target in sync until writes to the source are confirmed stopped (at the latest ${sync.deadlineAt})`,
    details: { strategy: sync.strategy, deadlineAt: sync.deadlineAt },
  });
  return { deadlineAt: sync.deadlineAt };
}
