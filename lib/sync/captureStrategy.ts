import type { LoggedChange } from '../capture/changes';
import { PermanentError } from '../errors';
import { collectionKey, collectionsBySourceName, type CollectionProgress, type JobWithCollections } from '../jobs/model';
import { describeCollection, expressibleBound, type CollectionSpec } from '../milvus';
import { ensureLoaded, ensureReadable } from '../milvus/collections';
import { pkLiteral } from '../milvus/filter';
import { estimateRowBytes, rowsForBudget } from '../milvus/keyRange/rowSize';
import { KeyRangeWriter, MAX_DELETE_EXPR_BYTES, MAX_DELETE_KEYS } from '../milvus/keyRange/writer';
import { copiedFields, DEFAULT_PARTITION, DYNAMIC_FIELD, hasUserPartitions, primaryField } from '../milvus/spec';
import { BackgroundComparison } from './backgroundComparison';
import { awaitFence, CLOCK_SKEW_MS as SKEW_MS } from './fence';
import { SnapshotDiffStrategy } from './snapshotDiffStrategy';
import { CAPTURE, type CycleContext, type CycleOutcome, type SyncStrategy } from './strategy';

export { CAPTURE };

/**
 * Keys re-read and written per request: as many rows as options.batchBytes holds (about 1,900 of
 * 128-d in the default 1 MiB), at most MAX_DELETE_KEYS. Few large writes, not many small ones: a
 * write's cost on milvus-lite is mostly a scan of the collection (at 1,000,000 rows an upsert of
 * 1 row took 507 ms, of 256 rows 710 ms), so the lag at that size follows the number of calls.
 */
function keysPerRequest(job: JobWithCollections, spec: CollectionSpec): number {
  return Math.min(rowsForBudget(job.options.batchBytes, estimateRowBytes(spec), MAX_DELETE_KEYS), job.options.batchRows ?? MAX_DELETE_KEYS);
}
/** Keys of the target a delete filter may match (one read: Milvus caps a query at 16,384 rows). */
const FILTER_KEYS_LIMIT = 16_384;
const READ_TIMEOUT_MS = 120_000;
/** How long a collection's described sides are reused by the cycles of one invocation. */
const SIDES_TTL_MS = 30_000;


/** The epoch ms an entry id starts with. */
const idTime = (id: string): number => Number(id.slice(0, 13));

interface CollectionWork {
  collection: CollectionProgress;
  /** Keys to re-read per partition ('' = the whole collection). */
  keys: Map<string, Set<string>>;
  /** Delete filters to resolve against the target, per partition. */
  filters: { partition: string; filter: string }[];
  /** Keys unknown: compare the whole collection. */
  compare: boolean;
}

/**
 * Sync from the capture endpoint's change log (lib/capture): each cycle reads what was logged since
 * its checkpoint, re-reads those keys from the source and makes them equal on the target (upsert
 * what the source has, delete what it has not). A cycle's cost follows the writes, not the data.
 *
 * - The log is applied from the job's start (the copy's writes were logged). A comparison of every
 *   row runs beside the cycles (lib/sync/backgroundComparison.ts): the first one closes whatever
 *   reached the source without an endpoint before the applications moved to one; then one every
 *   options.comparisonIntervalSeconds. It writes nothing: the keys it finds go into the log, and
 *   the cycles apply them; those the log does not explain are reported as bypassing the endpoints.
 * - An entry is applied once its write's outcome is logged, or once its deadline passed without one
 *   (its endpoint died): re-reading the source before it applied the write would miss it. Entries
 *   waiting so hold the checkpoint, and the lag counts from the oldest of them.
 * - Keys the log cannot name (an autoID insert whose endpoint died before the reply, a templated
 *   filter) make the cycle compare that collection whole.
 * - The drain (after stop-sync) first waits until every live endpoint says it refuses writes and has
 *   none in flight (the fence), applies the rest of the log, then compares every row: what differs
 *   then was written to the source without passing through an endpoint, and is reported so. With
 *   switchover the drain ends once the log is applied, and that comparison runs after the switch
 *   (lib/sync/switchover.ts), so the applications' downtime does not grow with the data.
 * - Entries logged after the switchover (toTarget) are never applied: those writes went to the target.
 * - The verification (apply false) is the snapshot diff's comparison.
 */
export class CaptureStrategy implements SyncStrategy {
  readonly name = CAPTURE;
  private readonly comparison = new SnapshotDiffStrategy({ targetDigests: false });
  /** Entries applied by this instance (one sync invocation), so the overlap read again is not applied twice. */
  private readonly applied = new Set<string>();
  /** Each collection's sides, as last prepared (see applyCollection). */
  private readonly sides = new Map<string, { at: number; sides: Sides }>();
  /** The comparison of every row running beside this invocation's cycles, if one is due or resumed. */
  private background?: BackgroundComparison;

  async runCycle(context: CycleContext): Promise<CycleOutcome> {
    if (!context.apply) return this.comparison.runCycle(context);
    const { services, job } = context;
    const log = services.changeLog;
    if (!log) throw new PermanentError('CHANGE_LOG_UNAVAILABLE', `job ${job.jobId} syncs with strategy capture, but this runtime has no change log`);
    let checkpoint = job.sync?.changeLogCheckpoint;
    const writeTimeoutMs = job.options.captureWriteTimeoutSeconds * 1000;
    const draining = job.status === 'CUTTING_OVER';

    // Writes stopped: the endpoints refuse them before the drain reads anything.
    if (draining) await awaitFence(log, job.jobId, job.writesStoppedAt ? Date.parse(job.writesStoppedAt) : Date.now(), writeTimeoutMs);
    if (checkpoint === undefined) {
      // No cycle recorded yet: the log is applied from the job's start (the copy's writes were
      // logged), less the longest a write stays in flight.
      checkpoint = Date.parse(job.startedAt ?? job.createdAt) - writeTimeoutMs;
    }
    // The first comparison of every row, then one every options.comparisonIntervalSeconds, runs beside the cycles.
    if (!draining && context.resumable && (!this.background || !this.background.busy) && (context.resumable.checkpoint || comparisonDue(job, services.now()))) {
      this.background = new BackgroundComparison(this.comparison, context, log);
    }
    const background = this.background;
    // Never wait for the comparison's shards here, even past the budget: the log would wait for the
    // rest of a shard's scan. SyncChanges runs cycles while it is busy, until a cycle records its end.
    await background?.appended();
    const readAfterEnd = background?.settled ?? false;

    const readAt = services.now();
    const entries = await log.read(job.jobId, checkpoint - SKEW_MS);
    background?.read(entries);
    // Thrown here, before this cycle writes anything: a comparison that failed fails the step.
    const report = background?.report(readAfterEnd);
    const byKey = collectionsBySourceName(job);
    const work = new Map<string, CollectionWork>();
    let oldestPending: number | undefined;
    const ready: LoggedChange[] = [];
    for (const entry of entries) {
      // Entries read from SKEW_MS before the checkpoint may have been applied already; entries
      // logged after the switchover are writes to the target, which the source never had.
      if (this.applied.has(entry.id) || entry.toTarget) continue;
      const final = entry.outcome !== undefined || entry.found || draining || readAt.getTime() - entry.at > writeTimeoutMs + SKEW_MS;
      if (!final) {
        oldestPending = Math.min(oldestPending ?? entry.at, entry.at);
        continue;
      }
      ready.push(entry);
      const collection = byKey.get(collectionKey(entry.db, entry.collection));
      if (!collection) continue; // a collection the job does not move
      let w = work.get(collection.key);
      if (!w) work.set(collection.key, (w = { collection, keys: new Map(), filters: [], compare: false }));
      const partition = entry.partition ?? '';
      const addKeys = (keys: readonly string[]) => {
        let set = w.keys.get(partition);
        if (!set) w.keys.set(partition, (set = new Set()));
        for (const k of keys) set.add(k);
      };
      switch (entry.kind) {
        case 'upsert-keys':
        case 'delete-keys':
          addKeys(entry.keys ?? []);
          break;
        case 'autoid-pending':
          if (entry.ackKeys.length) addKeys(entry.ackKeys);
          else if (entry.outcome !== 'refused') w.compare = true; // the minted keys are unknown
          break;
        case 'delete-filter':
          w.filters.push({ partition, filter: entry.filter ?? '' });
          break;
        case 'compare':
          w.compare = true;
          break;
      }
    }

    const outcome: CycleOutcome = { startedAt: new Date(Math.min(readAt.getTime(), oldestPending ?? Infinity)), endedAt: readAt, rowsCompared: 0, inserted: 0, updated: 0, deleted: 0, externalWrites: [], sampleKeys: [] };
    const compareWhole: CollectionProgress[] = [];
    for (const w of work.values()) {
      if (w.compare) {
        compareWhole.push(w.collection);
        continue;
      }
      const counts = await this.applyCollection(context, w);
      if (counts === 'compare') {
        compareWhole.push(w.collection);
        continue;
      }
      outcome.rowsCompared += counts.read;
      outcome.inserted += counts.written;
      outcome.deleted += counts.deleted;
    }
    if (compareWhole.length) {
      // Over some collections, inside a cycle that applies the log: not a pass to resume later.
      const compared = await this.comparison.runCycle({ ...context, resumable: undefined, job: { ...job, collections: Object.fromEntries(compareWhole.map((c) => [c.key, c])) } });
      add(outcome, compared);
    }
    for (const entry of ready) this.applied.add(entry.id);
    const nextCheckpoint = Math.min(readAt.getTime(), oldestPending ?? Infinity);
    for (const id of this.applied) if (idTime(id) < nextCheckpoint - 2 * SKEW_MS) this.applied.delete(id);

    if (draining && !job.options.switchover) {
      // Writes stopped: a comparison of every row finds what reached the source without an endpoint.
      // (With switchover that comparison runs after the switch, outside the applications' downtime: lib/sync/switchover.ts.)
      const final = await this.comparison.runCycle(context);
      const bypassed = final.inserted + final.updated + final.deleted;
      return {
        ...final,
        changeLogCheckpoint: nextCheckpoint,
        ...(bypassed
          ? {
              bypassedWrites: [
                `${bypassed} row(s) differed after every logged change was applied (${final.inserted} missing on the target, ${final.updated} different, ${final.deleted} extra, e.g. ${final.sampleKeys.slice(0, 3).join(', ')})`,
              ],
            }
          : {}),
      };
    }
    outcome.endedAt = services.now();
    outcome.changeLogCheckpoint = nextCheckpoint;
    if (report) {
      outcome.rowsCompared += report.rowsCompared;
      if (report.pass) outcome.pass = report.pass;
      if (report.comparedEveryRowAt) outcome.comparedEveryRowAt = report.comparedEveryRowAt;
      if (report.bypassedWrites) outcome.bypassedWrites = report.bypassedWrites;
    }
    // Until the first comparison ends, rows that bypassed the endpoints may still differ: the lag says nothing of them.
    if (!job.sync?.lastComparisonAt && !report?.comparedEveryRowAt) outcome.firstComparisonPending = true;
    return outcome;
  }

  /** The comparison beside the cycles runs, or has something left for a cycle to record: the step runs another cycle before it returns. */
  busy(): boolean {
    return this.background?.busy ?? false;
  }

  /** Stops the comparison beside the cycles between shards, and waits for it (the step returns or fails: nothing may run on behind it). */
  async stop(): Promise<void> {
    await this.background?.stop();
  }

  /**
   * Applies a collection's logged keys with its sides as prepared at most SIDES_TTL_MS ago: four
   * calls fewer in most cycles, each of which waits its turn on a loaded server (a change of schema
   * is the guards' to find, beside every cycle). A failure prepares them afresh next time.
   */
  private async applyCollection(context: CycleContext, w: CollectionWork): Promise<Applied | 'compare'> {
    const key = w.collection.key;
    let prepared = this.sides.get(key);
    if (!prepared || Date.now() - prepared.at > SIDES_TTL_MS) {
      prepared = { at: Date.now(), sides: await prepareSides(context.clusters, w.collection) };
      this.sides.set(key, prepared);
    }
    try {
      return await applyCollection(context, w, prepared.sides);
    } catch (error) {
      this.sides.delete(key);
      throw error;
    }
  }
}

/** A comparison of every row is due: none ended yet (the first), or options.comparisonIntervalSeconds passed since the last one started. */
function comparisonDue(job: JobWithCollections, now: Date): boolean {
  const last = job.sync?.lastComparisonAt;
  return last === undefined || now.getTime() - Date.parse(last) >= job.options.comparisonIntervalSeconds * 1000;
}

function add(outcome: CycleOutcome, other: CycleOutcome): void {
  outcome.rowsCompared += other.rowsCompared;
  outcome.inserted += other.inserted;
  outcome.updated += other.updated;
  outcome.deleted += other.deleted;
  for (const k of other.sampleKeys) if (outcome.sampleKeys.length < 10) outcome.sampleKeys.push(k);
}

/** Makes these keys of a collection equal on the target to the source, in whichever partition the source holds them. */
export async function copyKeys(context: CycleContext, collection: CollectionProgress, keys: ReadonlySet<string>): Promise<Applied> {
  const counts = await applyCollection(context, { collection, keys: new Map([['', new Set(keys)]]), filters: [], compare: false }, await prepareSides(context.clusters, collection));
  // Only a delete filter answers 'compare', and there is none here.
  return counts === 'compare' ? { read: 0, written: 0, deleted: 0 } : counts;
}

/** Keys in requests of at most `maxKeys` keys and MAX_DELETE_EXPR_BYTES of filter (long VarChar keys fill a filter before the count does). */
function* keyChunks(keys: readonly string[], maxKeys: number, literalBytes: (key: string) => number): Generator<string[]> {
  let chunk: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    const size = literalBytes(key);
    if (chunk.length && (chunk.length >= maxKeys || bytes + size > MAX_DELETE_EXPR_BYTES)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(key);
    bytes += size;
  }
  if (chunk.length) yield chunk;
}

export interface Applied {
  read: number;
  written: number;
  deleted: number;
}

interface Sides {
  sourceSpec: CollectionSpec;
  targetSpec: CollectionSpec;
}

/** Both sides of a collection described, the source readable and the target loaded: four calls. */
async function prepareSides(clusters: CycleContext['clusters'], collection: CollectionProgress): Promise<Sides> {
  const [sourceSpec, targetSpec] = await Promise.all([
    describeCollection(clusters.source, collection.sourceDb, collection.sourceName),
    describeCollection(clusters.target, collection.targetDb, collection.targetName),
  ]);
  await Promise.all([ensureReadable(clusters.source, collection.sourceDb, sourceSpec.name), ensureLoaded(clusters.target, collection.targetDb, targetSpec)]);
  return { sourceSpec, targetSpec };
}

/** Makes the logged keys (and the keys the logged delete filters match on the target) equal on the target to the source. */
async function applyCollection({ clusters, job }: CycleContext, w: CollectionWork, { sourceSpec, targetSpec }: Sides): Promise<Applied | 'compare'> {
  const { collection } = w;
  const pk = primaryField(targetSpec);
  // Delete filters: the target's rows they match are re-read from the source like logged keys.
  for (const { partition, filter } of w.filters) {
    const keys = await clusters.target
      .queryKeys(collection.targetDb, targetSpec.name, { pkField: pk.name, filter, limit: FILTER_KEYS_LIMIT, ...(partition ? { partition } : {}) })
      // A filter the target cannot run (it names something the target lacks): compare the collection instead.
      .catch(() => null);
    // More rows than one read holds: comparing the collection is simpler than paging a filter.
    if (!keys || keys.length >= FILTER_KEYS_LIMIT) return 'compare';
    let set = w.keys.get(partition);
    if (!set) w.keys.set(partition, (set = new Set()));
    for (const k of keys) set.add(k);
  }
  const counts: Applied = { read: 0, written: 0, deleted: 0 };
  const partitioned = hasUserPartitions(sourceSpec);
  const outputFields = [...copiedFields(sourceSpec).map((f) => f.name), ...(sourceSpec.enableDynamicField && targetSpec.enableDynamicField ? [DYNAMIC_FIELD] : [])];
  const batch = keysPerRequest(job, sourceSpec);
  // Before the switchover the applications read the source, not the target: a row may be rewritten there in two calls.
  const mayRewrite = !job.sync?.switchedAt;
  /** The target's writer in a partition ('': the whole collection). */
  const writerIn = (p: string) => new KeyRangeWriter({ cluster: clusters.target, db: collection.targetDb, spec: targetSpec, ...(p ? { partition: p } : {}) });
  const rowLiterals = (rows: readonly Record<string, unknown>[]) => rows.map((r) => pkLiteral(pk, String(r[pk.name])));
  for (const [partition, keySet] of w.keys) {
    const keys = [...keySet].filter((k) => expressibleBound(pk, k) === k);
    for (const chunk of keyChunks(keys, batch, (k) => pkLiteral(pk, k).length + 2)) {
      const filter = `${pk.name} in [${chunk.map((k) => pkLiteral(pk, k)).join(', ')}]`;
      // A collection with partitions of its own: the row may be in any of them (a write without a partition went to _default).
      const partitions = partition ? [partition] : partitioned ? (sourceSpec.partitions ?? [DEFAULT_PARTITION]) : [''];
      const found = new Set<string>();
      const rowsByPartition: { partition: string; rows: Record<string, unknown>[] }[] = [];
      for (const p of partitions) {
        const rows = await clusters.source.queryRows(collection.sourceDb, {
          collection: sourceSpec.name,
          pkField: pk.name,
          filter,
          outputFields,
          ...(p ? { partition: p } : {}),
          limit: chunk.length * 2,
          offset: 0,
          timeoutMs: READ_TIMEOUT_MS,
        });
        for (const row of rows) found.add(String(row[pk.name]));
        rowsByPartition.push({ partition: p, rows });
      }
      counts.read += chunk.length;
      const absent = chunk.filter((k) => !found.has(k));
      // One partition to write to (named, or a collection without partitions of its own).
      const single = partition || !partitioned ? rowsByPartition[0] : undefined;
      if (mayRewrite && absent.length && single?.rows.length) {
        // Rows to write and keys to remove: one delete of both, then an insert. On milvus-lite an
        // upsert and a delete each scan the collection and run one after the other (at 1,000,000
        // rows: 533 ms each, 1,168 ms side by side, 545 ms for the delete and insert), and Milvus
        // itself applies an upsert as a delete and an insert. The target is not read meanwhile
        // (mayRewrite), so the moment a row is missing there between the two harms no one.
        const writer = writerIn(single.partition);
        await writer.deleteKeys([...rowLiterals(single.rows), ...absent.map((k) => pkLiteral(pk, k))]);
        await writer.writeRows(single.rows, 'insert');
        counts.written += single.rows.length;
        counts.deleted += absent.length;
        continue;
      }
      // Keys the source no longer has go from the target (from the partition named, or from all of
      // them), while the rows it has are written: the two key sets are disjoint, so they need no
      // order, and a write to Milvus costs a round trip (on milvus-lite, a scan of the collection).
      const removal = absent.length
        ? writerIn(partition).deleteKeys(absent.map((k) => pkLiteral(pk, k)))
        : Promise.resolve();
      const writes = (async () => {
        // One partition after another: a key the source holds in two partitions is rewritten in each, in turn.
        for (const { partition: p, rows } of rowsByPartition) {
          if (!rows.length) continue;
          const writer = writerIn(p);
          if (partitioned && !partition) {
            // The key may sit in another partition on the target: remove it everywhere, then write it where the source has it.
            await writerIn('').deleteKeys(rowLiterals(rows));
            await writer.writeRows(rows, 'insert');
          } else {
            await writer.writeRows(rows, 'upsert');
          }
          counts.written += rows.length;
        }
      })();
      // Both settle before the cycle goes on or fails: no write of a failed cycle lands after its retry's.
      const settled = await Promise.allSettled([removal, writes]);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
      counts.deleted += absent.length;
    }
  }
  return counts;
}
