import type { CollectionProgress, JobRecord } from '../jobs/model';
import { describeExamples, DUPLICATE_EXAMPLES, type Duplicates } from '../milvus/duplicates';
import { mapInOrder } from '../concurrency';
import type { Services } from '../services';

/**
 * What a job says about the source's duplicate primary keys (lib/milvus/duplicates.ts): the count
 * and a few examples on the collection's item, a warning on the job and an event, per collection.
 * The warnings name at most DUPLICATE_WARNINGS collections one by one (the job item stays small
 * whatever the number of collections); the rest are summed up in one more, and every collection's
 * item holds its own count and examples.
 */

export interface CollectionDuplicates extends Duplicates {
  key: string;
}

/** Collections named one by one in the job's warnings and events, with a few examples each (the job item stays small). */
export const DUPLICATE_WARNINGS = 5;
const EXAMPLES_IN_WARNING = 3;

/** The duplicates the copy's shards of the collection's current attempt found (offline: counted when each shard was done). */
export async function copiedShardDuplicates(services: Services, jobId: string, collection: CollectionProgress): Promise<Duplicates> {
  const shards = (await services.jobs.listShards(jobId, collection.key)).filter((s) => s.attempt === collection.attempt && s.done);
  let rows = 0;
  const examples: string[] = [];
  for (const shard of shards) {
    rows += shard.duplicateRows ?? 0;
    for (const key of shard.duplicateExamples ?? []) if (examples.length < DUPLICATE_EXAMPLES) examples.push(key);
  }
  return { rows, examples };
}

export function duplicatesWarning({ key, rows, examples }: CollectionDuplicates): string {
  return (
    `${key}: the source holds ${rows} duplicate primary key(s) (rows inserted again under a key that existed; e.g. ${describeExamples(examples, rows, EXAMPLES_IN_WARNING)}): ` +
    `the target holds one row per key, the version a query of the source returns, and verification counted distinct keys`
  );
}

/** Records the duplicates found in the collections that have some: collection items, job warnings, events. */
export async function reportDuplicateKeys(services: Services, job: Pick<JobRecord, 'jobId' | 'warnings'>, found: readonly CollectionDuplicates[]): Promise<void> {
  const duplicated = found.filter((d) => d.rows > 0);
  if (duplicated.length === 0) return;
  await mapInOrder(duplicated, 8, (d) => services.jobs.updateCollection(job.jobId, d.key, { duplicateKeys: d.rows, duplicateExamples: d.examples.slice(0, DUPLICATE_EXAMPLES) }));
  const named = duplicated.slice(0, DUPLICATE_WARNINGS);
  const rest = duplicated.slice(DUPLICATE_WARNINGS);
  const warnings = named.map(duplicatesWarning);
  if (rest.length > 0) {
    warnings.push(`${rest.length} more collection(s) hold ${rest.reduce((sum, d) => sum + d.rows, 0)} duplicate primary key(s) in all: see each collection's duplicateKeys`);
  }
  // A resumed job verifies again: a warning is given once.
  const fresh = warnings.filter((w) => !job.warnings.includes(w));
  if (fresh.length > 0) await services.jobs.update(job.jobId, { addWarnings: fresh });
  for (const d of named) {
    await services.jobs.appendEvent(job.jobId, {
      type: 'DuplicateKeysFound',
      message: duplicatesWarning(d),
      details: { collection: d.key, duplicateKeys: d.rows, examples: d.examples },
    });
  }
  if (rest.length > 0) {
    await services.jobs.appendEvent(job.jobId, {
      type: 'DuplicateKeysFound',
      message: warnings[warnings.length - 1]!,
      details: { collections: rest.length, duplicateKeys: rest.reduce((sum, d) => sum + d.rows, 0) },
    });
  }
}
