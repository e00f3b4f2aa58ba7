import { collectionExists, createCollection, dropCollection, ensureLoaded } from '../milvus';
import type { Services } from '../services';
import type { CollectionInput } from '../workflow/steps';
import { collectionOf, loadActiveJob, withClusters } from './jobContext';
import { targetSpecFor } from './targetSpec';

/**
 * Creates the target collection from the translated source schema, indexes and loads it (the
 * copy deletes by primary key range when it resumes, which Milvus evaluates only on a loaded
 * collection). A collection sent back by verification is dropped and created anew.
 */
export async function createTargetCollection(services: Services, { jobId, collectionKey }: CollectionInput): Promise<void> {
  const job = await loadActiveJob(services, jobId);
  const collection = collectionOf(job, collectionKey);
  const { targetDb, targetName } = collection;

  await withClusters(services, job, async (clusters) => {
    const { spec, warnings } = await targetSpecFor(job, collection, clusters);
    if (collection.status === 'RECOPY') {
      await dropCollection(clusters.target, targetDb, targetName);
    }
    // Preflight saw no such collection, so one found now was created by an earlier try of this step.
    if (!(await collectionExists(clusters.target, targetDb, targetName))) {
      await createCollection(clusters.target, targetDb, spec);
    }
    await ensureLoaded(clusters.target, targetDb, spec);
    const newWarnings = warnings.filter((w) => !job.warnings.includes(w));
    if (newWarnings.length > 0) await services.jobs.update(jobId, { addWarnings: newWarnings });
    for (const warning of newWarnings) await services.jobs.appendEvent(jobId, { type: 'Warning', message: warning });
  });

  if (collection.status === 'PENDING' || collection.status === 'RECOPY') {
    await services.jobs.updateCollection(jobId, collectionKey, { status: 'CREATED' });
    await services.jobs.appendEvent(jobId, {
      type: 'CollectionCreated',
      message: `created ${targetDb}.${targetName} on the target${collection.attempt > 1 ? ' (again, for a re-copy)' : ''}`,
      details: { collection: collectionKey, attempt: collection.attempt },
    });
  }
}
