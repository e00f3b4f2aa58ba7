import { isTerminal, type JobRecord } from '../jobs/model';

/**
 * The sync lag, seconds: since the start of the last completed sync cycle, measured now (or when
 * the job ended). Every change committed on the source before that start is on the target, so it
 * bounds the target's staleness; it grows between cycles, so it is never read from a stored number.
 * Null before the first cycle completes. Strategy capture: a cycle's start is the time of the
 * oldest logged change it had not applied, and until the first comparison of every row ends (it
 * runs beside the cycles) writes that bypassed the endpoints may be missing whatever the lag says;
 * the lag alert waits for it (lib/sync/recordCycle.ts).
 */
export function syncLagSeconds(job: Pick<JobRecord, 'status' | 'sync' | 'endedAt'>, now: Date): number | null {
  if (!job.sync?.syncedThrough) return null;
  if (job.status === 'SUCCESSFUL') return 0; // the cutover drained every change and compared every row
  const until = isTerminal(job.status) && job.endedAt ? Date.parse(job.endedAt) : now.getTime();
  return Math.max(0, Math.round((until - Date.parse(job.sync.syncedThrough)) / 100) / 10);
}
