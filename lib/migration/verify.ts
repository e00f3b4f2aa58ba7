import { PermanentError } from '../errors';
import { VERIFICATION_ENTRIES_LISTED, verificationReport, type CollectionProgress, type VerificationReport } from '../jobs/model';
import { collectionExists, countRows } from '../milvus';
import { mapInOrder } from '../concurrency';
import type { Services } from '../services';
import type { JobInput, VerifyOutput } from '../workflow/steps';
import { copiedShardDuplicates, reportDuplicateKeys, type CollectionDuplicates } from './duplicateKeys';
import { loadActiveJob, withClusters } from './jobContext';

/** The first few of a list for a message or an event (an item of its own, under DynamoDB's 400 KB whatever the job's size). */
function named(items: string[], shown = 20): string {
  return items.length <= shown ? items.join(', ') : `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

/** Collections counted at once: each is a few round trips to both clusters. */
const VERIFY_CONCURRENCY = 8;

/** A collection whose count differs is copied again this many times before the job fails. */
const MAX_ATTEMPTS = 2;

/**
 * Compares the number of collections and every collection's entity count (flushed) on both
 * sides; the source's duplicate keys, which the target holds once (lib/milvus/duplicates.ts), are
 * not expected there, and a job that passes warns of them. A first mismatch sends the collection back for one re-copy; a second fails the job.
 */
export async function verify(services: Services, { jobId }: JobInput): Promise<VerifyOutput> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'VERIFICATION' });
  const collections = Object.values(job.collections);
  const found: CollectionDuplicates[] = [];

  const { report, entries } = await withClusters(services, job, async ({ source, target }): Promise<{ report: VerificationReport; entries: Array<VerificationReport['collections'][number]> }> => {
    let targetCollections = 0;
    const entries = await mapInOrder(collections, VERIFY_CONCURRENCY, async (c) => {
      const exists = await collectionExists(target, c.targetDb, c.targetName);
      if (exists) targetCollections += 1;
      const [sourceRows, targetRows] = await Promise.all([
        countRows(source, c.sourceDb, c.sourceName, { readOnly: true }),
        exists ? countRows(target, c.targetDb, c.targetName) : Promise.resolve(0),
      ]);
      // An append target held rows before the job: it must now hold those plus the source's.
      const before = c.rowsBefore ?? 0;
      if (!exists || sourceRows + before === targetRows) return { key: c.key, sourceRows, targetRows, match: exists };
      // The target holds one row per key: the source's duplicate keys (counted by the copy) are not expected there.
      const duplicates = await copiedShardDuplicates(services, jobId, c);
      if (duplicates.rows > 0) found.push({ key: c.key, ...duplicates });
      return {
        key: c.key,
        sourceRows,
        targetRows,
        ...(duplicates.rows > 0 ? { duplicateKeys: duplicates.rows } : {}),
        match: sourceRows - duplicates.rows + before === targetRows,
      };
    });
    return { report: verificationReport({
      at: services.now().toISOString(),
      sourceCollections: collections.length,
      targetCollections,
      passed: targetCollections === collections.length && entries.every((e) => e.match),
    }, entries), entries };
  });
  await services.jobs.update(jobId, { verification: report });

  if (report.passed) {
    await reportDuplicateKeys(services, job, found);
    await mapInOrder(collections, VERIFY_CONCURRENCY, (c) => services.jobs.updateCollection(jobId, c.key, { status: 'VERIFIED' }));
    await services.jobs.appendEvent(jobId, {
      type: 'VerificationPassed',
      message: `${report.targetCollections}/${report.sourceCollections} collection(s) and every entity count match`,
      details: { collections: report.collections },
    });
    return { outcome: 'PASSED' };
  }

  const mismatched = entries.filter((e) => !e.match).map((e) => job.collections[e.key] as CollectionProgress);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const describe = (c: CollectionProgress) => {
    const entry = byKey.get(c.key);
    const duplicates = entry?.duplicateKeys ? ` with ${entry.duplicateKeys} duplicate key(s)` : '';
    return `${c.key} (source ${entry?.sourceRows}${duplicates}, target ${entry?.targetRows}${c.rowsBefore ? `, of which ${c.rowsBefore} before the job` : ''})`;
  };
  // A collection appended to is never dropped for a re-copy: it held the target's own rows.
  const exhausted = mismatched.filter((c) => c.attempt >= MAX_ATTEMPTS || c.append);
  if (exhausted.length > 0) {
    await services.jobs.appendEvent(jobId, { type: 'VerificationFailed', message: named(exhausted.map(describe)) });
    throw new PermanentError(
      'VERIFICATION_MISMATCH',
      `entity counts still differ after a re-copy: ${named(exhausted.map(describe))}`,
    );
  }
  for (const c of mismatched) {
    await services.jobs.updateCollection(jobId, c.key, { status: 'RECOPY', attempt: c.attempt + 1 });
  }
  await services.jobs.appendEvent(jobId, {
    type: 'RecopyScheduled',
    message: `entity counts differ, copying again: ${named(mismatched.map(describe))}`,
    details: { collections: mismatched.slice(0, VERIFICATION_ENTRIES_LISTED).map((c) => c.key), count: mismatched.length },
  });
  return { outcome: 'RECOPY' };
}
