import { randomBytes } from 'node:crypto';
import { entriesFor, type ChangeEntry, type ChangeLog, type LoggedChange } from '../capture/changes';
import { entryId } from '../capture/dynamoChangeLog';
import type { JobWithCollections, PassCheckpoint } from '../jobs/model';
import { DifferingKeys, LoggedKeys } from './bypassedWrites';
import { PassPaused } from './comparisonPass';
import type { SnapshotDiffStrategy } from './snapshotDiffStrategy';
import type { CycleContext, CycleOutcome } from './strategy';

/** Keys found different are appended to the log at the latest once this many wait (and after every shard). */
const FLUSH_KEYS = 5_000;

/** What a comparison beside the cycles leaves for the next cycle to record. */
interface ComparisonReport {
  /** The pass goes on (next cycle, or next invocation): its checkpoint, saved with the cycle. */
  pass?: PassCheckpoint;
  /** The pass ended: every row was compared; started then. */
  comparedEveryRowAt?: Date;
  /** What the differences the log does not explain say (writes that bypassed the endpoints). */
  bypassedWrites?: string[];
  rowsCompared: number;
}

/**
 * A comparison of every row of the capture strategy (its first, and the periodic one) that runs
 * beside the log's cycles instead of in their place. At a million rows under writes one took about
 * 550 s on milvus-lite, and no cycle applied the log meanwhile: the lag grew with the data, the
 * very thing the capture strategy is for.
 *
 * It writes nothing to the target. Every key it finds different is appended to the change log
 * (`found`), and the log's cycles make it equal like any logged write: re-read from the source when
 * they apply it. So the cycles remain the one writer of the target. A comparison that wrote its
 * repairs itself could write back a row it had read before a cycle applied a newer version.
 *
 * Its progress is saved with the cycles' records (`pass`), only after the keys it found up to
 * there are durable in the log: a process killed in between compares those shards again. The
 * differences no logged write explains are judged against what the cycles of the same invocation
 * read from the log, from the checkpoint they started at (every write logged before it was
 * applied before this invocation compared anything).
 */
export class BackgroundComparison {
  private readonly differing = new DifferingKeys();
  /** What every cycle of this invocation read from the log (the comparison's own entries excepted). */
  private readonly logged: LoggedKeys;
  private buffered = new Map<string, string[]>();
  private bufferedCount = 0;
  private appending: Promise<void> = Promise.resolve();
  private readonly instanceId = `sync-${randomBytes(4).toString('hex')}`;
  private sequence = 0;
  private parked?: PassCheckpoint;
  private result?: { outcome: CycleOutcome } | { paused: PassCheckpoint } | { error: unknown };
  private reported = false;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    comparison: SnapshotDiffStrategy,
    private readonly context: CycleContext,
    private readonly log: ChangeLog,
  ) {
    const { resumable } = context;
    if (!resumable) throw new Error('a comparison beside the cycles needs a resumable pass');
    // Until it saves a shard of its own, the pass resumed stays recorded as it was.
    this.parked = resumable.checkpoint;
    this.logged = new LoggedKeys(context.job);
    this.done = comparison
      .runCycle({
        ...context,
        apply: false,
        onDifference: this.onDifference,
        abandon: async () => this.stopped || ((await context.abandon?.()) ?? false),
        resumable: {
          ...resumable,
          onProgress: async (checkpoint) => {
            await this.flush();
            this.parked = checkpoint;
          },
        },
      })
      .then(
        async (outcome) => {
          await this.flush();
          this.result = { outcome };
        },
        async (error: unknown) => {
          if (error instanceof PassPaused) {
            // Its last checkpoint was parked after its keys were appended; nothing compared since is lost.
            this.result = { paused: this.parked ?? error.checkpoint };
            return;
          }
          await this.appending.catch(() => undefined);
          this.result = { error };
        },
      );
  }

  /** Running, or ended with something no cycle has recorded yet. */
  get busy(): boolean {
    return !this.reported;
  }

  get settled(): boolean {
    return this.result !== undefined;
  }

  /** Resolves once no append of found keys is under way: a cycle reads the log after it, so nothing appended before its read is missed. */
  async appended(): Promise<void> {
    await this.appending;
  }

  /** Entries a cycle read: what they name explains a difference found in this invocation. */
  read(entries: readonly LoggedChange[]): void {
    this.logged.add(entries);
  }

  /**
   * For the cycle that read the log after this comparison's last append: its checkpoint while it
   * runs, its end once it ended (with the differences the log does not explain). Throws what the
   * comparison failed with (CycleAbandoned when a stop-sync or cancel stopped it: nothing to record).
   */
  report(readAfterEnd: boolean): ComparisonReport | undefined {
    if (this.reported) return undefined;
    // Ended after the cycle read the log: its last differences are judged by the next cycle's read.
    if (!this.result || !readAfterEnd) return this.parked ? { pass: this.parked, rowsCompared: 0 } : undefined;
    this.reported = true;
    if ('error' in this.result) throw this.result.error;
    const progress = 'paused' in this.result ? this.result.paused : this.parked;
    const found = this.differing.unexplained(this.context.job, this.logged);
    const which = this.context.job.sync?.lastComparisonAt ? 'periodic comparison' : 'first comparison';
    const bypassed = [...(progress?.bypassed ?? []), ...(found ? [`${found} (${which})`] : [])].slice(0, 10);
    if ('paused' in this.result) return { pass: { ...this.result.paused, bypassed }, rowsCompared: 0 };
    const { outcome } = this.result;
    return { comparedEveryRowAt: outcome.startedAt, rowsCompared: outcome.rowsCompared, ...(bypassed.length ? { bypassedWrites: bypassed } : {}) };
  }

  /** Ends the comparison between shards (the step fails or returns), and waits for it. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private readonly onDifference = (collection: string, pk: string): void => {
    this.differing.onDifference(collection, pk);
    let keys = this.buffered.get(collection);
    if (!keys) this.buffered.set(collection, (keys = []));
    keys.push(pk);
    if (++this.bufferedCount >= FLUSH_KEYS) void this.flush().catch(() => undefined);
  };

  /** Appends the keys found so far to the log, one append after another (a failure fails the next flush too: the pass stops). */
  private flush(): Promise<void> {
    const job: JobWithCollections = this.context.job;
    const batch = this.buffered;
    this.buffered = new Map();
    this.bufferedCount = 0;
    this.appending = this.appending.then(async () => {
      const at = this.context.services.now().getTime();
      const entries: ChangeEntry[] = [];
      for (const [key, keys] of batch) {
        const collection = job.collections[key];
        if (!collection) continue;
        for (const change of entriesFor({ db: collection.sourceDb, collection: collection.sourceName, kind: 'upsert-keys', keys: [...new Set(keys)], found: true })) {
          entries.push({ ...change, at, id: entryId(at, this.instanceId, this.sequence++) });
        }
      }
      if (entries.length) await this.log.append(job.jobId, entries, []);
    });
    return this.appending;
  }
}
