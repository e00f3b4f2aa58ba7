import type { JobRecord, SyncState } from '../jobs/model';
import { loadActiveJob } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { newDigestEpoch, SNAPSHOT_DIFF } from './strategy';

/** Online: the full copy is done; the job becomes SYNCING and its sync deadline starts. Idempotent. */
export async function startSync(services: Services, { jobId }: JobInput): Promise<{ deadlineAt: string }> {
  const job = await loadActiveJob(services, jobId);
  const now = services.now();
  if (job.sync && job.status === 'IN_PROGRESS') return resumeSync(services, job, now);
  if (job.sync) return { deadlineAt: job.sync.deadlineAt };
  const sync: SyncState = {
    strategy: job.options.syncStrategy ?? SNAPSHOT_DIFF,
    startedAt: now.toISOString(),
    deadlineAt: new Date(now.getTime() + job.options.syncTimeoutSeconds * 1000).toISOString(),
    cycles: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    digestEpoch: newDigestEpoch(),
  };
  await services.jobs.update(jobId, { status: 'SYNCING', phase: 'INCREMENTAL_SYNC', sync }, ['IN_PROGRESS']);
  await services.jobs.appendEvent(jobId, {
    type: 'SyncStarted',
    message: `full copy done; keeping the target in sync until writes to the source are confirmed stopped (at the latest ${sync.deadlineAt})`,
    details: { strategy: sync.strategy, deadlineAt: sync.deadlineAt },
  });
  return { deadlineAt: sync.deadlineAt };
}

/**
 * A resumed job (its sync had started, it is IN_PROGRESS again): SYNCING once more, with a new
 * deadline (the old one may be why it failed), and a new digest epoch: the shard digests a
 * failure in the middle of a cycle left may say less than what is on the target (lib/sync/syncChanges.ts).
 */
async function resumeSync(services: Services, job: JobRecord, now: Date): Promise<{ deadlineAt: string }> {
  const sync: SyncState = { ...(job.sync as SyncState), deadlineAt: new Date(now.getTime() + job.options.syncTimeoutSeconds * 1000).toISOString(), digestEpoch: newDigestEpoch() };
  await services.jobs.update(job.jobId, { status: 'SYNCING', phase: 'INCREMENTAL_SYNC', sync }, ['IN_PROGRESS']);
  await services.jobs.appendEvent(job.jobId, {
    type: 'SyncResumed',
    message: `sync resumed after ${job.sync?.cycles ?? 0} cycle(s); keeping the target in sync until writes to the source are confirmed stopped (at the latest ${sync.deadlineAt})`,
    details: { deadlineAt: sync.deadlineAt, cycles: job.sync?.cycles ?? 0 },
  });
  return { deadlineAt: sync.deadlineAt };
}
