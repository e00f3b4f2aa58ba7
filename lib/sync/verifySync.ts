import { PermanentError } from '../errors';
import type { VerificationReport } from '../jobs/model';
import { countRows } from '../milvus';
import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { syncStrategyFor } from './syncStrategies';

/**
 * Online cutover's verification, with writes stopped and the changes drained: one more full
 * comparison that writes nothing (every row of every collection, field by field), and every
 * entity count on both sides. Any difference fails the job naming it.
 */
export async function verifySync(services: Services, { jobId }: JobInput): Promise<{ passed: true; rowsCompared: number }> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'VERIFICATION' });
  const collections = Object.values(job.collections);
  const { report, comparison } = await withClusters(services, job, async (clusters) => {
    const comparison = await syncStrategyFor(job).runCycle({ services, job, clusters, apply: false });
    const entries = [];
    for (const c of collections) {
      const [sourceRows, targetRows] = await Promise.all([countRows(clusters.source, c.sourceDb, c.sourceName, { readOnly: true }), countRows(clusters.target, c.targetDb, c.targetName)]);
      entries.push({ key: c.key, sourceRows, targetRows, match: sourceRows === targetRows });
    }
    const differences = comparison.inserted + comparison.updated + comparison.deleted;
    const report: VerificationReport = {
      at: services.now().toISOString(),
      sourceCollections: collections.length,
      targetCollections: collections.length,
      collections: entries,
      passed: differences === 0 && entries.every((e) => e.match),
    };
    return { report, comparison };
  });
  await services.jobs.update(jobId, { verification: report });
  const differences = comparison.inserted + comparison.updated + comparison.deleted;
  if (!report.passed) {
    const counts = report.collections.filter((e) => !e.match).map((e) => `${e.key} (source ${e.sourceRows}, target ${e.targetRows})`);
    const reason = [
      differences ? `${comparison.inserted} row(s) missing on the target, ${comparison.updated} different, ${comparison.deleted} extra (e.g. ${comparison.sampleKeys.slice(0, 3).join(', ')})` : '',
      counts.length ? `entity counts differ: ${counts.join(', ')}` : '',
    ].filter(Boolean).join('; ');
    await services.jobs.appendEvent(jobId, { type: 'VerificationFailed', message: reason });
    throw new PermanentError('VERIFICATION_MISMATCH', `after the drain the target differs from the source: ${reason}`);
  }
  for (const c of collections) await services.jobs.updateCollection(jobId, c.key, { status: 'VERIFIED' });
  await services.jobs.appendEvent(jobId, {
    type: 'VerificationPassed',
    message: `${collections.length} collection(s): all ${comparison.rowsCompared} row(s) compared equal field by field, every entity count matches`,
    details: { rowsCompared: comparison.rowsCompared, collections: report.collections },
  });
  return { passed: true, rowsCompared: comparison.rowsCompared };
}
