import { PermanentError } from '../errors';
import type { JobRecord } from '../jobs/model';
import { CAPTURE, CaptureStrategy } from './captureStrategy';
import { SNAPSHOT_DIFF, SnapshotDiffStrategy } from './snapshotDiffStrategy';
import type { SyncStrategy } from './strategy';

/** The strategy a job's sync runs (recorded on the job when sync starts). */
export function syncStrategyFor(job: JobRecord): SyncStrategy {
  const name = job.sync?.strategy ?? SNAPSHOT_DIFF;
  if (name === SNAPSHOT_DIFF) return new SnapshotDiffStrategy();
  if (name === CAPTURE) return new CaptureStrategy();
  throw new PermanentError('UNKNOWN_SYNC_STRATEGY', `job ${job.jobId} asks for sync strategy ${name}, which this version does not have`);
}
