import type { CollectionProgress, JobRecord } from '../jobs/model';
import type { SchemaMapping } from '../jobs/model';
import { applyMapping, describeCollection, targetCapabilities, translateSchema, type CollectionSpec } from '../milvus';
import type { JobClusters } from './jobContext';

/**
 * The collection the target should hold for a source collection: the source schema translated
 * under the job's options. Deterministic, so CreateTargetCollection and BuildIndexes agree.
 */
export async function targetSpecFor(
  job: Pick<JobRecord, 'databases' | 'options'>,
  collection: CollectionProgress,
  { source, target }: JobClusters,
): Promise<{ sourceSpec: CollectionSpec; spec: CollectionSpec; warnings: string[] }> {
  const [sourceSpec, capabilities] = await Promise.all([
    describeCollection(source, collection.sourceDb, collection.sourceName),
    targetCapabilities(target),
  ]);
  const mapping = mappingOf(job, collection);
  const { spec, warnings } = translateSchema(applyMapping(sourceSpec, mapping), {
    targetName: collection.targetName,
    indexPolicy: job.options.indexPolicy,
    targetAllowsExplicitAutoId: capabilities.allowsExplicitAutoId,
    ...(capabilities.version ? { targetVersion: capabilities.version } : {}),
    ...(mapping?.autoId ? { discardSourceKeys: true } : {}),
  });
  return { sourceSpec, spec, warnings };
}

/** The schema mapping the request gave this collection, if any. */
export function mappingOf(job: Pick<JobRecord, 'databases'>, collection: CollectionProgress): SchemaMapping | undefined {
  const database = job.databases.find((d) => d.name === collection.sourceDb);
  return database?.collections?.find((c) => c.name === collection.sourceName)?.mapping;
}
