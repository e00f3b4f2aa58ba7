import { JobNotActiveError, JobNotFoundError, PermanentError } from '../errors';
import type { CollectionProgress, JobRecord, JobStatus } from '../jobs/model';
import { isTerminal } from '../jobs/model';
import type { MilvusGateway } from '../milvus';
import type { Services } from '../services';

/** Statuses in which steps of the copy may act. */
export const ACTIVE_STATUSES: readonly JobStatus[] = ['PENDING', 'IN_PROGRESS', 'SYNCING', 'CUTTING_OVER'];

/** Reads the job and refuses to act on one that was cancelled or has ended. */
export async function loadActiveJob(services: Services, jobId: string): Promise<JobRecord> {
  const job = await services.jobs.get(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  if (isTerminal(job.status)) throw new JobNotActiveError(jobId, job.status);
  return job;
}

export function collectionOf(job: JobRecord, key: string): CollectionProgress {
  const collection = job.collections[key];
  if (!collection) throw new PermanentError('COLLECTION_NOT_PLANNED', `collection ${key} is not part of job ${job.jobId}`);
  return collection;
}

export interface JobClusters {
  source: MilvusGateway;
  target: MilvusGateway;
}

/** Connects to both clusters of the job with credentials resolved from the store, and closes them after. */
export async function withClusters<T>(services: Services, job: JobRecord, work: (clusters: JobClusters) => Promise<T>): Promise<T> {
  const [sourceCredentials, targetCredentials] = await Promise.all([
    services.credentials.resolve(job.source.credentialsRef),
    services.credentials.resolve(job.target.credentialsRef),
  ]);
  const source = services.openCluster(sourceCredentials);
  const target = services.openCluster(targetCredentials);
  try {
    return await work({ source, target });
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}
