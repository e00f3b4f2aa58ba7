import { PermanentError } from '../errors';
import { verificationReport, type CollectionProgress, type JobRecord, type VerificationReport } from '../jobs/model';
import { countRows, describeCollection, type MilvusGateway } from '../milvus';
import { countRange, DUPLICATE_EXAMPLES, findDuplicateKeys, type Duplicates } from '../milvus/duplicates';
import { reportDuplicateKeys, type CollectionDuplicates } from '../migration/duplicateKeys';
import { loadActiveJob, withClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { JobInput, StepBudget, VerifySyncOutput } from '../workflow/steps';
import { passOf, PassPaused, savingProgress } from './comparisonPass';
import type { CycleOutcome } from './strategy';
import { syncStrategyFor } from './syncStrategies';
import { bypassedWarning } from './bypassedWrites';
import { compareAfterSwitch, type SwitchedComparison } from './switchover';

/**
 * What is left to compare after the drain. The drain's cycle, started after the writes stopped,
 * compared every row (both strategies drain with a comparison of every row): when it changed
 * nothing it is the full comparison ('none' left); when it changed rows, the shards it changed are
 * compared again (a second look that they stay equal: a writer that did not stop shows there, and
 * in the entity counts), not every row a second time; without that list, everything.
 */
function leftToCompare(job: JobRecord): 'none' | 'all' | ReadonlySet<string> {
  const last = job.sync?.lastCycle;
  if (!last || !job.writesStoppedAt || Date.parse(last.startedAt) < Date.parse(job.writesStoppedAt)) return 'all';
  if (last.inserted + last.updated + last.deleted === 0) return 'none';
  return last.changedShards ? new Set(last.changedShards) : 'all';
}

/**
 * The source's duplicate keys in a collection whose rows compared equal to the target's, every one,
 * while its count(*) exceeds the target's by `extra`: the key sets are equal and the target holds
 * each key once (a query returns one row per key, and the comparison leaves no key twice on the
 * target), so the extra rows are keys inserted more than once on the source, before the job or
 * during the sync alike. Counted per shard on both sides (two count(*) a shard); a shard's keys are
 * read (keys only) to name a few examples. null when the shards do not account for `extra`.
 */
async function sourceDuplicates(services: Services, job: JobRecord, { source, target }: { source: MilvusGateway; target: MilvusGateway }, c: CollectionProgress, extra: number): Promise<Duplicates | null> {
  const [sourceSpec, targetSpec] = await Promise.all([describeCollection(source, c.sourceDb, c.sourceName), describeCollection(target, c.targetDb, c.targetName)]);
  const shards = (await services.jobs.listShards(job.jobId, c.key)).filter((s) => s.attempt === c.attempt);
  let rows = 0;
  const examples: string[] = [];
  try {
    for (const shard of shards) {
      const partition = shard.partition ? { partition: shard.partition } : {};
      const sourceSide = { cluster: source, db: c.sourceDb, spec: sourceSpec, ...partition };
      const [held, kept] = await Promise.all([
        countRange(sourceSide, shard.lowerExclusive, shard.upperInclusive),
        countRange({ cluster: target, db: c.targetDb, spec: targetSpec, ...partition }, shard.lowerExclusive, shard.upperInclusive),
      ]);
      if (held <= kept) continue;
      rows += held - kept;
      if (examples.length < DUPLICATE_EXAMPLES) {
        const found = await findDuplicateKeys(sourceSide, { lowerExclusive: shard.lowerExclusive, upperInclusive: shard.upperInclusive }, held - kept);
        examples.push(...found.examples.slice(0, DUPLICATE_EXAMPLES - examples.length));
      }
    }
  } catch (error) {
    // A shard bound no filter can hold: the counts stand as they are (a mismatch).
    if (error instanceof PermanentError && error.code === 'INEXPRESSIBLE_KEY') return null;
    throw error;
  }
  return rows === extra ? { rows, examples } : null;
}

/**
 * Online cutover's verification, with writes stopped and the changes drained: a full comparison
 * of every row, field by field (the drain's own cycle when it found nothing left to change, else
 * one more pass that writes nothing), and every entity count on both sides, less the source's
 * duplicate keys (which the target holds once; the job warns of them). A difference means the
 * source still changed after the confirmation (WRITES_NOT_STOPPED) or the counts disagree
 * (VERIFICATION_MISMATCH): the job fails naming it.
 */
export async function verifySync(services: Services, { jobId }: JobInput, budget: StepBudget = { deadline: Infinity }): Promise<VerifySyncOutput> {
  const job = await loadActiveJob(services, jobId);
  await services.jobs.update(jobId, { phase: 'VERIFICATION' });
  const collections = Object.values(job.collections);
  const found: CollectionDuplicates[] = [];
  let switched: SwitchedComparison | undefined;
  let writtenCollections = 0;
  const verified = await withClusters(services, job, async (clusters) => {
    const scope = leftToCompare(job);
    const drained = { rowsCompared: job.sync?.lastCycle?.rowsCompared ?? 0, inserted: 0, updated: 0, deleted: 0, sampleKeys: [] };
    // The comparison goes on over several invocations when it needs longer than one (lib/sync/comparisonPass.ts).
    const resumable = { purpose: 'verify' as const, deadline: budget.deadline, checkpoint: passOf(job, 'verify'), onProgress: savingProgress(services, jobId, ['CUTTING_OVER']) };
    let comparison: Pick<CycleOutcome, 'rowsCompared' | 'inserted' | 'updated' | 'deleted' | 'sampleKeys'>;
    try {
      // Switched over: applications write to the target meanwhile (lib/sync/switchover.ts).
      if (job.sync?.switchedAt) switched = await compareAfterSwitch(services, job, clusters, budget.deadline);
      comparison = switched
        ? { ...drained, rowsCompared: switched.rowsCompared }
        : scope === 'none'
          ? drained
          : scope === 'all'
            ? await syncStrategyFor(job).runCycle({ services, job, clusters, apply: false, resumable })
            : { ...(await syncStrategyFor(job).runCycle({ services, job, clusters, apply: false, onlyShards: scope, resumable })), rowsCompared: drained.rowsCompared };
    } catch (error) {
      if (error instanceof PassPaused) return { paused: error.checkpoint };
      throw error;
    }
    const differences = comparison.inserted + comparison.updated + comparison.deleted;
    const entries = [];
    for (const c of collections) {
      const [sourceRows, targetRows] = await Promise.all([countRows(clusters.source, c.sourceDb, c.sourceName, { readOnly: true }), countRows(clusters.target, c.targetDb, c.targetName)]);
      if (switched) {
        // Judged below, once the log says which collections the applications wrote since the switch.
        entries.push({ key: c.key, sourceRows, targetRows, match: sourceRows === targetRows });
        continue;
      }
      const duplicateKeys = differences === 0 && sourceRows > targetRows ? await sourceDuplicates(services, job, clusters, c, sourceRows - targetRows) : null;
      if (duplicateKeys) found.push({ key: c.key, ...duplicateKeys });
      entries.push({ key: c.key, sourceRows, targetRows, ...(duplicateKeys ? { duplicateKeys: duplicateKeys.rows } : {}), match: sourceRows - (duplicateKeys?.rows ?? 0) === targetRows });
    }
    if (switched) {
      // Read after every count: a write a count saw was logged before it was forwarded.
      const written = await switched.writtenAfterSwitch();
      for (const e of entries) if (written.has(e.key)) Object.assign(e, { match: true, writtenAfterSwitch: true });
      writtenCollections = written.size;
    }
    const report: VerificationReport = verificationReport(
      { at: services.now().toISOString(), sourceCollections: collections.length, targetCollections: collections.length, passed: differences === 0 && entries.every((e) => e.match) },
      entries,
    );
    return { paused: undefined, report, comparison, scope };
  });
  if (verified.paused) return { done: false, rowsCompared: verified.paused.rowsCompared };
  const { report, comparison, scope } = verified;
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
  if (switched?.bypassed) {
    await services.jobs.update(jobId, { addWarnings: [bypassedWarning(switched.bypassed)] });
    await services.jobs.appendEvent(jobId, { type: 'WritesBypassedCapture', message: switched.bypassed, details: { bypassed: [switched.bypassed], repaired: switched.repaired } });
  }
  await reportDuplicateKeys(services, job, found);
  for (const c of collections) await services.jobs.updateCollection(jobId, c.key, { status: 'VERIFIED' });
  await services.jobs.appendEvent(jobId, {
    type: 'VerificationPassed',
    message: switched
      ? verifiedAfterSwitch(collections.length, switched, writtenCollections)
      : `${collections.length} collection(s): all ${comparison.rowsCompared} row(s) compared equal field by field${typeof scope === 'object' ? ` (the ${scope.size} shard(s) the drain changed compared twice)` : ''}, every entity count matches`,
    details: { rowsCompared: comparison.rowsCompared, collections: report.collections },
  });
  return { done: true, passed: true, rowsCompared: comparison.rowsCompared };
}

function verifiedAfterSwitch(collections: number, s: SwitchedComparison, written: number): string {
  const parts = [`${collections} collection(s), compared after the switchover: all ${s.rowsCompared} row(s) equal field by field but those the applications wrote to the target since`];
  if (s.repaired) parts.push(`${s.repaired} row(s) that bypassed the capture endpoints copied from the source`);
  if (s.unattributed) parts.push(`${s.unattributed} row(s) differ in collections where a delete by filter or an autoID insert after the switch leaves them unattributable`);
  parts.push(written ? `entity counts match in the ${collections - written} collection(s) nothing was written to since the switch` : 'every entity count matches');
  return parts.join('; ');
}
