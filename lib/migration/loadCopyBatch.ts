import { copyBatchItems, type CopyBatchItems } from '../copyBatches';
import { PermanentError } from '../errors';
import type { Services } from '../services';
import type { CopyBatchInput } from '../workflow/steps';

/**
 * The first step of every child execution of the copy: reads the batch PlanShards stored and
 * answers its collections and shards, which the child iterates over (one DynamoDB read; no cluster).
 */
export async function loadCopyBatch(services: Services, { jobId, batch }: CopyBatchInput): Promise<CopyBatchItems> {
  const stored = await services.jobs.getCopyBatch(jobId, batch);
  if (!stored) throw new PermanentError('COPY_BATCH_NOT_PLANNED', `copy batch ${batch} of job ${jobId} was not planned`);
  return copyBatchItems(stored);
}
