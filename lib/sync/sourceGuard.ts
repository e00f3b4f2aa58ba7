import { PassPaused } from './comparisonPass';
import { MigrationError, PermanentError } from '../errors';
import type { JobWithCollections } from '../jobs/model';
import type { MilvusGateway } from '../milvus';
import { CycleAbandoned } from './strategy';
import { describeSourceChanges, detectSourceChanges, movedDatabases, takeSourceBaseline, type BaselineScope, type SourceChange } from './guards';

/** What an online job moves, as the guards see it. */
export function baselineScope(job: JobWithCollections): BaselineScope {
  const collections = Object.values(job.collections).map((c) => ({ key: c.key, db: c.sourceDb, name: c.sourceName }));
  const databases = job.sourceBaseline ? movedDatabases(job.sourceBaseline) : [...new Set(collections.map((c) => c.db))];
  return { databases, collections };
}

/**
 * A job that named its databases does not move a database created later; one that named the
 * collections of a database does not move a collection created there later. Every other change
 * concerns it.
 */
function concernsJob(job: JobWithCollections, change: SourceChange): boolean {
  if (change.kind === 'NewDatabase') return job.databases.length === 0;
  if (change.kind === 'NewCollection') return !job.databases.some((d) => d.name === change.database && d.collections !== undefined);
  return true;
}

/**
 * Fails the job (SOURCE_CHANGED, naming what changed) when the source's schema, properties,
 * aliases, partitions, collections or databases differ from the baseline taken at the job's
 * start, or a bulk import started: the sync copies rows, not such changes.
 */
async function assertSourceUnchanged(source: MilvusGateway, job: JobWithCollections, now: Date): Promise<void> {
  if (!job.sourceBaseline) return;
  const current = await takeSourceBaseline(source, baselineScope(job), now);
  const changes = detectSourceChanges(job.sourceBaseline, current).filter((change) => concernsJob(job, change));
  if (changes.length > 0) throw new PermanentError('SOURCE_CHANGED', describeSourceChanges(changes));
}

/**
 * Runs a sync pass; when it fails, a change of the source is given as the reason if there is one.
 * A collection dropped (or altered) while the pass reads it fails the pass with whatever the read
 * hit (COLLECTION_NOT_FOUND, say); the operator needs SOURCE_CHANGED, naming the change.
 */
export async function explainedBySourceChange<T>(source: MilvusGateway, job: JobWithCollections, now: () => Date, pass: () => Promise<T>): Promise<T> {
  try {
    return await pass();
  } catch (error) {
    if (error instanceof CycleAbandoned || error instanceof PassPaused) throw error;
    const change = await assertSourceUnchanged(source, job, now()).then(
      () => null,
      (guard: unknown) => (guard instanceof MigrationError && guard.code === 'SOURCE_CHANGED' ? guard : null),
    );
    throw change ?? error;
  }
}

/**
 * A sync cycle guarded by a check of the source against the baseline, the two run side by side:
 * the check is half a dozen calls (databases, collections, schemas, aliases, partitions, imports)
 * and on a loaded source they would add their time to every cycle, that is to the lag. A change
 * the check finds fails the job whatever the cycle did (the cycle is not recorded); one made while
 * the cycle runs is found by the next check either way, so checking first guarded nothing more.
 */
export async function guardedCycle<T>(source: MilvusGateway, job: JobWithCollections, now: () => Date, pass: () => Promise<T>): Promise<T> {
  const [guard, cycle] = await Promise.allSettled([assertSourceUnchanged(source, job, now()), explainedBySourceChange(source, job, now, pass)]);
  if (guard.status === 'rejected') throw guard.reason;
  if (cycle.status === 'rejected') throw cycle.reason;
  return cycle.value;
}
