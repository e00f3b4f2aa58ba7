import { PermanentError } from '../errors';
import { verificationReport, type CollectionProgress, type JobRecord, type VerificationReport } from '../jobs/model';
import { countRows, describeCollection, type MilvusGateway } from '../milvus';
import { DUPLICATE_EXAMPLES, findDuplicateKeys, type Duplicates } from '../milvus/duplicates';
import { reportDuplicateKeys, type CollectionDuplicates } from '../migration/duplicateKeys';
import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import type { CycleOutcome } from './strategy';
import { syncStrategyFor } from './syncStrategies';

/** The drain's cycle compared every row after the writes stopped and found nothing to change: it is the full comparison. */
function drainWasAComparison(job: JobRecord): boolean {
  const last = job.sync?.lastCycle;
  if (!last || !job.writesStoppedAt) return false;
  return Date.parse(last.startedAt) >= Date.parse(job.writesStoppedAt) && last.inserted + last.updated + last.deleted === 0;
}

/**
 * The source's duplicate keys in a collection whose rows compared equal to the target's, every one,
 * while its count(*) exceeds the target's by `extra`: the target holds each key once (a query
 * returns one row per key, and the comparison left no key twice on the target), so the extra rows
 * can only be keys inserted more than once on the source, during the copy or the sync alike. They
 * are confirmed from the source's keys and counts (lib/milvus/duplicates.ts); null when the search
 * finds fewer (the source changed after all: the counts then differ).
 */
async function sourceDuplicates(source: MilvusGateway, c: CollectionProgress, extra: number): Promise<Duplicates | null> {
  const spec = await describeCollection(source, c.sourceDb, c.sourceName);
  const found = await findDuplicateKeys({ cluster: source, db: c.sourceDb, spec }, { lowerExclusive: null, upperInclusive: null }, extra);
  // The search stops once it has named enough examples: the rest is taken from the counts.
  if (found.rows === extra || (found.examples.length >= DUPLICATE_EXAMPLES && found.rows <= extra)) return { rows: extra, examples: found.examples };
  return null;
}

/**
 * Online cutover's verification, with writes stopped and the changes drained: a full comparison
 * of every row, field by field (the drain's own cycle when it found nothing left to change, else
 * one more pass that writes nothing), and every entity count on both sides, less the source's
 * duplicate keys (which the target holds once; the job warns of them). A difference means the
 * source still changed after the confirmation (WRITES_NOT_STOPPED) or the counts disagree
 * (VERIFICATION_MISMATCH): the job fails naming it.
 */
export async function verifySync(services: Services, { jobId }: JobInput): Promise<{ passed: true; rowsCompared: number }> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'VERIFICATION' });
  const collections = Object.values(job.collections);
  const found: CollectionDuplicates[] = [];
  const { report, comparison } = await withClusters(services, job, async (clusters) => {
    const comparison: Pick<CycleOutcome, 'rowsCompared' | 'inserted' | 'updated' | 'deleted' | 'sampleKeys'> = drainWasAComparison(job)
      ? { rowsCompared: job.sync!.lastCycle!.rowsCompared, inserted: 0, updated: 0, deleted: 0, sampleKeys: [] }
      : await syncStrategyFor(job).runCycle({ services, job, clusters, apply: false });
    const differences = comparison.inserted + comparison.updated + comparison.deleted;
    const entries = [];
    for (const c of collections) {
      const [sourceRows, targetRows] = await Promise.all([countRows(clusters.source, c.sourceDb, c.sourceName, { readOnly: true }), countRows(clusters.target, c.targetDb, c.targetName)]);
      const duplicateKeys = differences === 0 && sourceRows > targetRows ? await sourceDuplicates(clusters.source, c, sourceRows - targetRows) : null;
      if (duplicateKeys) found.push({ key: c.key, ...duplicateKeys });
      entries.push({ key: c.key, sourceRows, targetRows, ...(duplicateKeys ? { duplicateKeys: duplicateKeys.rows } : {}), match: sourceRows - (duplicateKeys?.rows ?? 0) === targetRows });
    }
    const report: VerificationReport = verificationReport(
      { at: services.now().toISOString(), sourceCollections: collections.length, targetCollections: collections.length, passed: differences === 0 && entries.every((e) => e.match) },
      entries,
    );
    return { report, comparison };
  });
  await services.jobs.update(jobId, { verification: report });
  const differences = comparison.inserted + comparison.updated + comparison.deleted;
  if (differences > 0) {
    const reason = `${comparison.inserted} row(s) missing on the target, ${comparison.updated} different, ${comparison.deleted} extra (e.g. ${comparison.sampleKeys.slice(0, 3).join(', ')})`;
    await services.jobs.appendEvent(jobId, { type: 'VerificationFailed', message: reason });
    throw new PermanentError(
      'WRITES_NOT_STOPPED',
      `the source still changes after writes were confirmed stopped: after the last sync cycle ${reason}; stop every writer and run the migration again`,
    );
  }
  if (!report.passed) {
    const counts = report.collections.filter((e) => !e.match).map((e) => `${e.key} (source ${e.sourceRows}, target ${e.targetRows})`);
    await services.jobs.appendEvent(jobId, { type: 'VerificationFailed', message: `entity counts differ: ${counts.join(', ')}` });
    throw new PermanentError('VERIFICATION_MISMATCH', `every row compared equal but entity counts differ: ${counts.join(', ')}`);
  }
  await reportDuplicateKeys(services, job, found);
  for (const c of collections) await services.jobs.updateCollection(jobId, c.key, { status: 'VERIFIED' });
  await services.jobs.appendEvent(jobId, {
    type: 'VerificationPassed',
    message: `${collections.length} collection(s): all ${comparison.rowsCompared} row(s) compared equal field by field, every entity count matches`,
    details: { rowsCompared: comparison.rowsCompared, collections: report.collections },
  });
  return { passed: true, rowsCompared: comparison.rowsCompared };
}
