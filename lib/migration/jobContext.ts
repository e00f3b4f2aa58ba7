import { JobNotActiveError, JobNotFoundError, MigrationError, PermanentError } from '../errors';
import type { CollectionProgress, JobRecord, JobStatus, JobWithCollections } from '../jobs/model';
import { isTerminal } from '../jobs/model';
import type { MilvusGateway } from '../milvus';
import type { Services } from '../services';

/** Statuses in which steps of the copy may act. */
export const ACTIVE_STATUSES: readonly JobStatus[] = ['PENDING', 'IN_PROGRESS', 'SYNCING', 'CUTTING_OVER'];

/** Reads the job item alone and refuses to act on one that was cancelled or has ended. */
async function loadActiveJobRecord(services: Services, jobId: string): Promise<JobRecord> {
  const job = await services.jobs.get(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  if (isTerminal(job.status)) throw new JobNotActiveError(jobId, job.status);
  return job;
}

/**
 * Reads the job with every collection's progress (all their items) and refuses to act on one that
 * was cancelled or has ended: for the steps that act on the whole job, once per job or sync cycle.
 */
export async function loadActiveJob(services: Services, jobId: string): Promise<JobWithCollections> {
  const [job, collections] = await Promise.all([loadActiveJobRecord(services, jobId), services.jobs.allCollections(jobId)]);
  return withCollections(job, collections);
}

/** The job item with collections read beside it (or planned, not yet stored). */
function withCollections(job: JobRecord, collections: readonly CollectionProgress[]): JobWithCollections {
  return { ...job, collections: Object.fromEntries(collections.map((c) => [c.key, c])) };
}

/** Reads the job item and one collection's item: what a step of one collection needs, whatever the job's size. */
export async function loadActiveCollection(services: Services, jobId: string, key: string): Promise<{ job: JobRecord; collection: CollectionProgress }> {
  const [job, collection] = await Promise.all([loadActiveJobRecord(services, jobId), services.jobs.getCollection(jobId, key)]);
  if (!collection) throw new PermanentError('COLLECTION_NOT_PLANNED', `collection ${key} is not part of job ${jobId}`);
  return { job, collection };
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
  } catch (error) {
    // Which side went away is not always known: both are connected anew on the step's retry.
    if (error instanceof MigrationError && error.code === 'MILVUS_UNAVAILABLE') for (const cluster of [source, target]) cluster.markUnreachable();
    throw error;
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}
