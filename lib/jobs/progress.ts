import { COLLECTION_STATUSES, type CollectionProgress, type CollectionsSummary, type JobRecord } from './model';

/** Percent of rows copied across the job's collections; 100 once the job succeeded. */
export function jobProgressPercent(job: Pick<JobRecord, 'status'>, summary: CollectionsSummary): number {
  if (job.status === 'SUCCESSFUL') return 100;
  if (summary.rowsTotal === 0) return summary.total > 0 && summary.byStatus.VERIFIED === summary.total ? 100 : 0;
  // Copying is not the whole job (indexes and verification follow): stop at 99 until it ends.
  return Math.min(99, Math.floor((summary.rowsCopied / summary.rowsTotal) * 100));
}

/** Adds up collections (each counted at most at its rowsTotal, as a re-copy may pass it for a moment). */
export function summarizeCollections(collections: Iterable<Pick<CollectionProgress, 'status' | 'rowsTotal' | 'rowsCopied'>>): CollectionsSummary {
  const summary: CollectionsSummary = {
    total: 0,
    byStatus: Object.fromEntries(COLLECTION_STATUSES.map((s) => [s, 0])) as CollectionsSummary['byStatus'],
    rowsTotal: 0,
    rowsCopied: 0,
  };
  for (const c of collections) {
    summary.total += 1;
    summary.byStatus[c.status] += 1;
    summary.rowsTotal += c.rowsTotal;
    summary.rowsCopied += Math.min(c.rowsCopied, c.rowsTotal);
  }
  return summary;
}
