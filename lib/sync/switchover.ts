import type { ChangeLog, LoggedChange } from '../capture/changes';
import { PermanentError } from '../errors';
import { collectionKey, collectionsBySourceName, type JobRecord, type JobWithCollections, type SyncState } from '../jobs/model';
import type { JobClusters } from '../migration/jobContext';
import type { Services } from '../services';
import { describeUnexplained, DifferingKeys } from './bypassedWrites';
import { copyKeys } from './captureStrategy';
import { awaitFence, CLOCK_SKEW_MS } from './fence';
import { HeldProgress, passOf, PassPaused, savingProgress } from './comparisonPass';
import { SnapshotDiffStrategy } from './snapshotDiffStrategy';
import { CAPTURE, type CycleOutcome } from './strategy';

/**
 * Switchover (options.switchover, strategy capture): the applications' downtime is the fenced
 * window from stop-sync to the end of the drain, which applies what the change log holds; its
 * length follows the writes, not the data. The comparison of every row, which does grow with the
 * data, runs after the switch while the applications write to the target through the endpoints:
 *
 * 1. DrainChanges, writes fenced: apply the rest of the log, then `switchOver` (sync.switchedAt):
 *    the endpoints send every call to the target, still logging each write's keys (toTarget).
 * 2. VerifySync, `compareAfterSwitch`: compare every row without writing; a key that differs is
 *    explained when a write logged after the switch names it (the application's write is the newer
 *    one). The rest reached the source without an endpoint before the fence (or still does).
 * 3. Those rows are copied from the source under a second, short fence (sync.repairFencedAt):
 *    endpoints refuse writes until it is lifted, so no application write to one of those keys can
 *    land between the source read and the target write and be overwritten; the log is read again
 *    once fenced, and a key written after the switch in the meantime is left as the application wrote it.
 */
export function switchesOver(job: Pick<JobRecord, 'options'>): boolean {
  return job.options.syncStrategy === CAPTURE && job.options.switchover === true;
}

/** The drain ended with writes fenced: from now on the capture endpoints send every call to the target. */
export async function switchOver(services: Services, job: JobRecord): Promise<void> {
  const now = services.now();
  await setSync(services, job, { switchedAt: now.toISOString() });
  const fencedSeconds = job.writesStoppedAt ? Math.round((now.getTime() - Date.parse(job.writesStoppedAt)) / 100) / 10 : undefined;
  await services.jobs.appendEvent(job.jobId, {
    type: 'SwitchedOver',
    message: `the change log is applied: capture endpoints send every call to the target from now on${fencedSeconds === undefined ? '' : ` (writes were refused for ${fencedSeconds} s since the stop-sync confirmation, plus up to half a second until each endpoint reads the job)`}; the verification compares every row meanwhile`,
    ...(fencedSeconds === undefined ? {} : { details: { fencedSeconds } }),
  });
}

export interface SwitchedComparison {
  rowsCompared: number;
  /** Rows that reached the source without an endpoint, copied to the target under the repair fence. */
  repaired: number;
  /** Differences in collections where a write after the switch names no keys (a delete by filter, an autoID insert without its reply): not attributable. */
  unattributed: number;
  /** Collections the applications wrote since the switch, read when asked (after the counts): their entity counts may rightly differ. */
  writtenAfterSwitch(): Promise<Set<string>>;
  /** The warning about rows that bypassed the endpoints, when any did. */
  bypassed?: string;
}

/** Differences beyond what the verification can attribute; more fail the job (see DifferingKeys). */
const fail = (what: string) =>
  new PermanentError(
    'BYPASSED_WRITES_UNTRACKED',
    `${what} after the switchover, more than the verification can tell from the applications' writes since the switch: writes reached the source without passing through the capture endpoints; the endpoints keep sending calls to the target; compare the collections named in the job's events before retiring the source`,
  );

/**
 * Step 2 and 3 of the switchover (see above), for VerifySync. The comparison checkpoints per shard
 * (lib/sync/comparisonPass.ts): an invocation compares shards until `deadline`, attributes and
 * repairs the differences it found, and only then saves its checkpoint, with the repairs counted;
 * PassPaused then says the next invocation goes on.
 */
export async function compareAfterSwitch(services: Services, job: JobWithCollections, clusters: JobClusters, deadline = Infinity): Promise<SwitchedComparison> {
  const log = services.changeLog;
  if (!log) throw new PermanentError('CHANGE_LOG_UNAVAILABLE', `job ${job.jobId} switched over, but this runtime has no change log`);
  const switchedAt = Date.parse(job.sync!.switchedAt!);
  const writeTimeoutMs = job.options.captureWriteTimeoutSeconds * 1000;
  const differing = new DifferingKeys();
  const earlier = passOf(job, 'afterSwitch');
  const held = new HeldProgress();
  let compared: CycleOutcome | undefined;
  let paused: PassPaused | undefined;
  try {
    compared = await new SnapshotDiffStrategy({ targetDigests: false }).runCycle({ services, job, clusters, apply: false, onDifference: differing.onDifference, resumable: { purpose: 'afterSwitch', deadline, checkpoint: earlier, onProgress: held.onProgress } });
  } catch (error) {
    if (!(error instanceof PassPaused)) throw error;
    paused = error;
  }
  // Read after the comparison: a write the comparison saw on the target was logged before it was forwarded.
  let logged = await writesAfterSwitch(log, job.jobId, switchedAt);
  let found = differing.unexplainedKeys(job, logged);
  if (found.untracked) throw fail(`${found.count + found.excused + found.untracked} row(s) differ`);
  let repaired = 0;
  let bypassed: string | undefined;
  if (found.count) {
    const fencedAt = services.now();
    await setSync(services, job, { repairFencedAt: fencedAt.toISOString() });
    try {
      const waitedMs = await awaitFence(log, job.jobId, fencedAt.getTime(), writeTimeoutMs);
      // Fenced: no endpoint writes now, so this read of the log is final for the keys repaired.
      logged = await writesAfterSwitch(log, job.jobId, switchedAt);
      found = differing.unexplainedKeys(job, logged);
      for (const [key, keys] of found.keys) {
        const done = await copyKeys({ services, job, clusters, apply: true }, job.collections[key]!, keys);
        repaired += done.written + done.deleted;
      }
      const fencedSeconds = Math.round((services.now().getTime() - fencedAt.getTime()) / 100) / 10;
      bypassed = `${describeUnexplained(found)}; copied from the source after the switchover, writes refused for ${fencedSeconds} s meanwhile (${Math.round(waitedMs / 100) / 10} s of it waiting for the endpoints to refuse them)`;
    } finally {
      await setSync(services, job, { repairFencedAt: undefined });
    }
  }
  // This invocation's repairs join those of the earlier ones, and the checkpoint is saved with them.
  const progress = paused?.checkpoint ?? held.last ?? earlier;
  const totals = {
    repaired: (progress?.repaired ?? 0) + repaired,
    unattributed: (progress?.unattributed ?? 0) + found.excused,
    bypassed: [...(progress?.bypassed ?? []), ...(bypassed ? [bypassed] : [])].slice(0, 10),
  };
  if (progress) await savingProgress(services, job.jobId, ['CUTTING_OVER'])({ ...progress, ...totals });
  if (paused) throw paused;
  return {
    rowsCompared: compared!.rowsCompared,
    repaired: totals.repaired,
    unattributed: totals.unattributed,
    writtenAfterSwitch: async () => collectionsWritten(job, await writesAfterSwitch(log, job.jobId, switchedAt)),
    ...(totals.bypassed.length ? { bypassed: totals.bypassed.join('; ') } : {}),
  };
}

async function writesAfterSwitch(log: ChangeLog, jobId: string, switchedAt: number): Promise<LoggedChange[]> {
  return (await log.read(jobId, switchedAt - CLOCK_SKEW_MS)).filter((e) => e.toTarget);
}

function collectionsWritten(job: JobWithCollections, logged: readonly LoggedChange[]): Set<string> {
  const byName = collectionsBySourceName(job);
  const written = new Set<string>();
  for (const e of logged) {
    const key = byName.get(collectionKey(e.db, e.collection))?.key;
    if (key) written.add(key);
  }
  return written;
}

/** Sets (or, undefined, removes) fields of the job's sync state; only the sync steps write it, one at a time. */
async function setSync(services: Services, job: JobRecord, fields: Partial<Pick<SyncState, 'switchedAt' | 'repairFencedAt'>>): Promise<void> {
  const current = (await services.jobs.get(job.jobId))?.sync ?? job.sync!;
  const next: SyncState = { ...current, ...fields };
  for (const [k, v] of Object.entries(fields)) if (v === undefined) delete next[k as keyof SyncState];
  await services.jobs.update(job.jobId, { sync: next }, ['CUTTING_OVER']);
}
