import { redactUrisIn } from '../cluster';
import { ConflictError } from '../errors';
import { notify } from '../notifications/notify';
import type { Services } from '../services';
import type { RecordFailureInput } from '../workflow/steps';
import { describeFailure } from './failure';
import { ACTIVE_STATUSES } from './jobContext';

/** The end of every Catch path: the job becomes FAILED with a code and a readable reason. */
export async function recordFailure(services: Services, { jobId, error, step }: RecordFailureInput): Promise<void> {
  const described = describeFailure(error, step);
  // Milvus and gRPC messages may quote the address they dialled, user:password@ included.
  const jobError = { ...described, reason: redactUrisIn(described.reason) };
  let failed;
  try {
    failed = await services.jobs.update(jobId, { status: 'FAILED', error: jobError, endedAt: services.now().toISOString() }, ACTIVE_STATUSES);
  } catch (conflict) {
    // Cancelled (or otherwise ended) while the failing step ran: the job keeps the status it has (cancel released the locks).
    if (conflict instanceof ConflictError) return;
    throw conflict;
  }
  // The job has ended: its credentials and its target locks go, as after Finalize.
  await Promise.allSettled([
    services.credentials.release(failed.source.credentialsRef),
    services.credentials.release(failed.target.credentialsRef),
    services.jobs.releaseTargetLocks(jobId),
  ]);
  await services.jobs.appendEvent(jobId, {
    type: 'JobFailed',
    message: `${jobError.code}: ${jobError.reason}`,
    details: { code: jobError.code, ...(step ? { step } : {}) },
  });
  await notify(services, jobId, 'failed', { type: failed.type, status: 'FAILED', code: jobError.code, reason: jobError.reason, ...(step ? { step } : {}) });
}
