import { MigrationError, PermanentError, TransientError } from '../errors';
import { collectionKey, type CollectionProgress, type JobRecord } from '../jobs/model';
import { collectionExists, countRows, listCollections, listDatabases } from '../milvus';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { loadActiveJob, withClusters, type JobClusters } from './jobContext';

/**
 * Checks, before anything is written, that both clusters answer, that every chosen collection
 * exists on the source and that no target collection is in the way; then records the
 * collections the job will copy with their row counts.
 */
export async function preflight(services: Services, { jobId }: JobInput): Promise<{ collections: number; rows: number }> {
  let job = await loadActiveJob(services, jobId);
  job = await services.jobs.update(
    jobId,
    { status: 'IN_PROGRESS', phase: 'PREFLIGHT', startedAt: job.startedAt ?? services.now().toISOString() },
    ['PENDING', 'IN_PROGRESS'],
  );
  const planned = Object.values(job.collections);
  if (planned.length > 0) {
    // A retried Preflight after it recorded the plan: the plan stands.
    return { collections: planned.length, rows: planned.reduce((sum, c) => sum + c.rowsTotal, 0) };
  }

  const collections = await withClusters(services, job, (clusters) => resolveCollections(job, clusters));
  await services.jobs.putCollections(jobId, collections);
  const rows = collections.reduce((sum, c) => sum + c.rowsTotal, 0);
  await services.jobs.appendEvent(jobId, {
    type: 'PreflightPassed',
    message: `${collections.length} collection(s), ${rows} row(s) to copy`,
    details: { collections: collections.map((c) => c.key), rows },
  });
  return { collections: collections.length, rows };
}

async function resolveCollections(job: JobRecord, { source, target }: JobClusters): Promise<CollectionProgress[]> {
  const [sourceDatabases, targetDatabases] = await Promise.all([
    reach('SOURCE_UNREACHABLE', 'source', () => listDatabases(source)),
    reach('TARGET_UNREACHABLE', 'target', () => listDatabases(target)),
  ]);
  const result: CollectionProgress[] = [];
  const targetNames = new Set<string>();
  for (const database of job.databases) {
    const targetDb = database.targetName ?? database.name;
    if (!sourceDatabases.includes(database.name)) {
      throw new PermanentError('DATABASE_NOT_FOUND', `database ${database.name} does not exist on the source`);
    }
    if (!targetDatabases.includes(targetDb)) {
      throw new PermanentError('TARGET_DATABASE_NOT_FOUND', `database ${targetDb} does not exist on the target`);
    }
    const available = await listCollections(source, database.name);
    const chosen = database.collections ?? available.sort().map((name) => ({ name, targetName: undefined }));
    for (const { name, targetName = name } of chosen) {
      if (!available.includes(name)) {
        throw new PermanentError('COLLECTION_NOT_FOUND', `collection ${name} does not exist in database ${database.name} on the source`);
      }
      const targetKey = collectionKey(targetDb, targetName);
      if (targetNames.has(targetKey)) {
        throw new PermanentError('TARGET_NAME_COLLISION', `two source collections would both be written to ${targetKey} on the target`);
      }
      targetNames.add(targetKey);
      if (await collectionExists(target, targetDb, targetName)) {
        throw new PermanentError(
          'TARGET_COLLECTION_EXISTS',
          `collection ${targetName} already exists in database ${targetDb} on the target; drop it or choose another target name`,
        );
      }
      result.push({
        key: collectionKey(database.name, name),
        sourceDb: database.name,
        sourceName: name,
        targetDb,
        targetName,
        status: 'PENDING',
        rowsTotal: await countRows(source, database.name, name, { readOnly: true }),
        rowsCopied: 0,
        shardCount: 0,
        attempt: 1,
      });
    }
  }
  return result;
}

/**
 * Names which cluster failed. A transient failure stays transient (the state machine retries it,
 * then fails with this reason); anything else, such as refused credentials, fails at once.
 */
async function reach<T>(code: string, role: 'source' | 'target', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const message = `cannot reach the ${role} cluster: ${detail}`;
    if (error instanceof TransientError) throw new TransientError(code, message, { cause: error });
    throw new PermanentError(error instanceof MigrationError ? error.code : code, message, { cause: error });
  }
}
