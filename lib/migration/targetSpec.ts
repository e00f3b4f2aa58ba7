import type { CollectionProgress, JobRecord } from '../jobs/model';
import { describeCollection, targetCapabilities, translateSchema, type CollectionSpec } from '../milvus';
import type { JobClusters } from './jobContext';

/**
 * The collection the target should hold for a source collection: the source schema translated
 * under the job's options. Deterministic, so CreateTargetCollection and BuildIndexes agree.
 */
export async function targetSpecFor(
  job: JobRecord,
  collection: CollectionProgress,
  { source, target }: JobClusters,
): Promise<{ sourceSpec: CollectionSpec; spec: CollectionSpec; warnings: string[] }> {
  const [sourceSpec, capabilities] = await Promise.all([
    describeCollection(source, collection.sourceDb, collection.sourceName),
    targetCapabilities(target),
  ]);
  const { spec, warnings } = translateSchema(sourceSpec, {
    targetName: collection.targetName,
    indexPolicy: job.options.indexPolicy,
    targetAllowsExplicitAutoId: capabilities.allowsExplicitAutoId,
  });
  return { sourceSpec, spec, warnings };
}
