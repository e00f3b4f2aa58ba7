import { MAX_RECORDED_CHANGED_SHARDS, type JobRecord, type SyncState } from '../jobs/model';
import { notify } from '../notifications/notify';
import type { Services } from '../services';
import { bypassedWarning } from './bypassedWrites';
import type { CycleOutcome } from './strategy';

/** A cycle event at most this often (a steady writer makes a cycle every few seconds for days). */
const CYCLE_EVENT_INTERVAL_MS = 60_000;
/**
 * Warnings the sync adds to the job item at most: a sync runs for days over up to thousands of
 * collections, and the job item holds 400 KB in all (test/jobs/itemSize.test.ts). The events keep
 * every cycle's findings.
 */
export const MAX_SYNC_WARNINGS = 20;
/** Shards written by others named in a warning, and in an event's details. */
const PLACES_IN_WARNING = 5;
const PLACES_IN_EVENT = 50;
const EXTERNAL_WRITE = 'the target was written by something other than this job during sync';
const BYPASSED = bypassedWarning('');

/** The first places of a list, and how many more. */
function named(places: readonly string[], shown: number): string {
  const more = places.length - shown;
  return places.slice(0, shown).join(', ') + (more > 0 ? ` and ${more} more shard(s)` : '');
}

/**
 * Stores a completed cycle on the job: `syncedThrough` moves to the cycle's start (what makes the
 * lag), counters add up. The first time the lag is under the job's
 * threshold, the `Migration Sync Lag Below Threshold` alert goes out (and is logged on the job).
 */
export async function recordCycle(services: Services, job: JobRecord, cycle: CycleOutcome, lastEventAt: { at: number }): Promise<JobRecord> {
  const sync = job.sync as SyncState;
  const now = services.now();
  const lagSeconds = Math.max(0, (now.getTime() - cycle.startedAt.getTime()) / 1000);
  // Only while SYNCING: once writes are confirmed stopped, telling the operator to stop them is noise.
  // Nor before the first comparison of every row ended: the target may still lack writes that bypassed the capture endpoints.
  const alertNow = job.status === 'SYNCING' && !sync.lagAlertSentAt && lagSeconds < job.options.lagAlertSeconds && !cycle.firstComparisonPending;
  // The cycle's comparison of every row, if it had one, ended (its checkpoint goes) or goes on beside the cycles (`cycle.pass`).
  const { pass: _ended, ...kept } = sync;
  const next: SyncState = {
    ...kept,
    ...(cycle.pass ? { pass: cycle.pass } : {}),
    syncedThrough: cycle.startedAt.toISOString(),
    cycles: sync.cycles + 1,
    lastCycle: {
      startedAt: cycle.startedAt.toISOString(),
      endedAt: cycle.endedAt.toISOString(),
      rowsCompared: cycle.rowsCompared,
      inserted: cycle.inserted,
      updated: cycle.updated,
      deleted: cycle.deleted,
      ...(cycle.changedShards && cycle.changedShards.length <= MAX_RECORDED_CHANGED_SHARDS ? { changedShards: cycle.changedShards } : {}),
    },
    inserted: sync.inserted + cycle.inserted,
    updated: sync.updated + cycle.updated,
    deleted: sync.deleted + cycle.deleted,
    ...(alertNow ? { lagAlertSentAt: now.toISOString() } : {}),
    ...(cycle.changeLogCheckpoint !== undefined ? { changeLogCheckpoint: cycle.changeLogCheckpoint } : {}),
    ...(cycle.comparedEveryRowAt ? { lastComparisonAt: cycle.comparedEveryRowAt.toISOString() } : {}),
  };
  const external = cycle.externalWrites.length ? `${EXTERNAL_WRITE}: ${named(cycle.externalWrites, PLACES_IN_WARNING)}; the sync made it equal to the source again` : undefined;
  const warnings = [
    ...(external ? [external] : []),
    ...(cycle.bypassedWrites ?? []).map((what) => bypassedWarning(`${what}; a comparison of every row copied them to the target`)),
  ];
  const fromSync = job.warnings.filter((w) => w.startsWith(EXTERNAL_WRITE) || w.startsWith(BYPASSED)).length;
  const newWarnings = warnings.filter((w) => !job.warnings.includes(w)).slice(0, Math.max(0, MAX_SYNC_WARNINGS - fromSync));
  const updated = await services.jobs.update(job.jobId, { sync: next, ...(newWarnings.length ? { addWarnings: newWarnings } : {}) }, ['SYNCING', 'CUTTING_OVER']);

  if (external) {
    await services.jobs.appendEvent(job.jobId, {
      type: 'TargetWrittenExternally',
      message: external,
      details: { shards: cycle.externalWrites.length, where: cycle.externalWrites.slice(0, PLACES_IN_EVENT) },
    });
  }
  if (cycle.bypassedWrites?.length) {
    await services.jobs.appendEvent(job.jobId, { type: 'WritesBypassedCapture', message: cycle.bypassedWrites.join('; '), details: { bypassed: cycle.bypassedWrites } });
  }
  const seconds = Math.round(lagSeconds * 10) / 10;
  if (sync.cycles === 0 || now.getTime() - lastEventAt.at >= CYCLE_EVENT_INTERVAL_MS) {
    lastEventAt.at = now.getTime();
    await services.jobs.appendEvent(job.jobId, {
      type: 'SyncCycleCompleted',
      message: `cycle ${next.cycles}: ${cycle.rowsCompared} row(s) compared, ${cycle.inserted} inserted, ${cycle.updated} updated, ${cycle.deleted} deleted; lag ${seconds} s`,
      details: { cycle: next.cycles, syncLagSeconds: seconds, rowsCompared: cycle.rowsCompared, inserted: cycle.inserted, updated: cycle.updated, deleted: cycle.deleted },
    });
  }
  if (alertNow) {
    const message = `sync lag is ${seconds} s, under the ${job.options.lagAlertSeconds} s threshold: stop writes to the source, then confirm with stop-sync`;
    await services.jobs.appendEvent(job.jobId, { type: 'SyncLagBelowThreshold', message, details: { syncLagSeconds: seconds, thresholdSeconds: job.options.lagAlertSeconds } });
    await notify(services, job.jobId, 'lagBelowThreshold', { status: updated.status, syncLagSeconds: seconds, thresholdSeconds: job.options.lagAlertSeconds, message });
  }
  return updated;
}
