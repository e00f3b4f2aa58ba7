import { notify } from '../notifications/notify';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { loadActiveJob } from './jobContext';
import { loadMigratedCollections } from './loadCollections';

/** Marks the job SUCCESSFUL and lets go of the credentials it kept and of its target locks. */
export async function finalize(services: Services, { jobId }: JobInput): Promise<void> {
  const job = await loadActiveJob(services, jobId);
  if (job.options.loadAfterMigration) await loadMigratedCollections(services, job);
  await services.jobs.update(
    jobId,
    { status: 'SUCCESSFUL', phase: 'DONE', endedAt: services.now().toISOString() },
    ['IN_PROGRESS', 'CUTTING_OVER'],
  );
  const rows = Object.values(job.collections).reduce((sum, c) => sum + c.rowsTotal, 0);
  const message = `migrated ${Object.keys(job.collections).length} collection(s), ${rows} row(s), verified`;
  await services.jobs.appendEvent(jobId, { type: 'JobSucceeded', message });
  await notify(services, jobId, 'succeeded', { type: job.type, status: 'SUCCESSFUL', message });
  await Promise.allSettled([services.credentials.release(job.source.credentialsRef), services.credentials.release(job.target.credentialsRef)]);
  // A lock left behind is taken over by the next job once this one has ended, so a failure here is not fatal.
  await services.jobs.releaseTargetLocks(jobId).catch(() => undefined);
}
