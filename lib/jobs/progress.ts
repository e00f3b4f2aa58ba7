import type { JobRecord } from './model';

/** Percent of rows copied across the job's collections; 100 once the job succeeded. */
export function jobProgressPercent(job: Pick<JobRecord, 'status' | 'collections'>): number {
  if (job.status === 'SUCCESSFUL') return 100;
  const collections = Object.values(job.collections);
  const total = collections.reduce((sum, c) => sum + c.rowsTotal, 0);
  if (total === 0) return collections.length > 0 && collections.every((c) => c.status === 'VERIFIED') ? 100 : 0;
  const copied = collections.reduce((sum, c) => sum + Math.min(c.rowsCopied, c.rowsTotal), 0);
  // Copying is not the whole job (indexes and verification follow): stop at 99 until it ends.
  return Math.min(99, Math.floor((copied / total) * 100));
}
