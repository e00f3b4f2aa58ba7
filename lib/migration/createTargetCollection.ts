import { PermanentError } from '../errors';
import { collectionExists, createCollection, createPartitions, describeDatabase, dropAliasesOf, dropCollection, ensureDatabase, ensureLoaded } from '../milvus';
import type { Services } from '../services';
import type { CollectionInput } from '../workflow/steps';
import { loadActiveCollection, withClusters } from './jobContext';
import { targetSpecFor } from './targetSpec';

/**
 * Creates the target collection from the translated source schema, indexes and loads it (the
 * copy deletes by primary key range when it resumes, which Milvus evaluates only on a loaded
 * collection). A collection sent back by verification is dropped and created anew.
 */
export async function createTargetCollection(services: Services, { jobId, collectionKey }: CollectionInput): Promise<void> {
  const { job, collection } = await loadActiveCollection(services, jobId, collectionKey);
  const { targetDb, targetName } = collection;

  await withClusters(services, job, async (clusters) => {
    const { spec, warnings } = await targetSpecFor(job, collection, clusters);
    // A target database that is missing is created with the source database's properties (Preflight writes nothing).
    if (await ensureDatabase(clusters.target, targetDb, () => describeDatabase(clusters.source, collection.sourceDb))) {
      await services.jobs.appendEvent(jobId, { type: 'DatabaseCreated', message: `created database ${targetDb} on the target`, details: { database: targetDb } });
    }
    if (collection.status === 'RECOPY') {
      if (collection.append) {
        throw new PermanentError('APPEND_NOT_RECOPIED', `${targetDb}.${targetName} held rows before the job; it is never dropped for a re-copy`);
      }
      await dropAliasesOf(clusters.target, targetDb, targetName);
      await dropCollection(clusters.target, targetDb, targetName);
    }
    // Preflight saw no such collection (or one to append to), so one found now was created by an earlier try of this step.
    if (!(await collectionExists(clusters.target, targetDb, targetName))) {
      await createCollection(clusters.target, targetDb, spec);
    } else {
      // An earlier try may have died between the collection and its partitions; an append target gets the source's partitions.
      await createPartitions(clusters.target, targetDb, spec);
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
