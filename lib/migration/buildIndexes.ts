import { buildIndexes as buildTargetIndexes, createAliases } from '../milvus';
import type { Services } from '../services';
import type { CollectionInput } from '../workflow/steps';
import { loadActiveCollection, withClusters } from './jobContext';
import { targetSpecFor } from './targetSpec';

/** Waits until the target's indexes (AUTOINDEX, or the source's own) cover every copied row. */
export async function buildIndexes(services: Services, { jobId, collectionKey }: CollectionInput): Promise<void> {
  const { job, collection } = await loadActiveCollection(services, jobId, collectionKey);
  await services.jobs.updateCollection(jobId, collectionKey, { status: 'COPIED' });
  const { indexes, aliases } = await withClusters(services, job, async (clusters) => {
    const { spec } = await targetSpecFor(job, collection, clusters);
    await buildTargetIndexes(clusters.target, collection.targetDb, spec);
    // Aliases last, once the rows are in: an application reading through an alias never sees a half-copied collection.
    await createAliases(clusters.target, collection.targetDb, spec);
    return { indexes: spec.indexes, aliases: spec.aliases ?? [] };
  });
  await services.jobs.updateCollection(jobId, collectionKey, { status: 'INDEXED' });
  if (aliases.length > 0) {
    await services.jobs.appendEvent(jobId, {
      type: 'AliasesCreated',
      message: `${collection.targetDb}.${collection.targetName}: ${aliases.join(', ')}`,
      details: { collection: collectionKey, aliases },
    });
  }
  await services.jobs.appendEvent(jobId, {
    type: 'IndexesBuilt',
    message: `${collection.targetDb}.${collection.targetName}: ${indexes.map((i) => `${i.fieldName} ${i.indexType}`).join(', ') || 'no vector index'}`,
    details: { collection: collectionKey },
  });
}
