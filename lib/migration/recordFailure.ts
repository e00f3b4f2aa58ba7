import { ConflictError } from '../errors';
import type { Services } from '../services';
import type { RecordFailureInput } from '../workflow/steps';
import { describeFailure } from './failure';
import { ACTIVE_STATUSES } from './jobContext';

/** The end of every Catch path: the job becomes FAILED with a code and a readable reason. */
export async function recordFailure(services: Services, { jobId, error, step }: RecordFailureInput): Promise<void> {
  const jobError = describeFailure(error, step);
  try {
    await services.jobs.update(jobId, { status: 'FAILED', error: jobError, endedAt: services.now().toISOString() }, ACTIVE_STATUSES);
  } catch (conflict) {
    // Cancelled (or otherwise ended) while the failing step ran: the job keeps the status it has.
    if (conflict instanceof ConflictError) return;
    throw conflict;
  }
  await services.jobs.appendEvent(jobId, {
    type: 'JobFailed',
    message: `${jobError.code}: ${jobError.reason}`,
    details: { code: jobError.code, ...(step ? { step } : {}) },
  });
}
