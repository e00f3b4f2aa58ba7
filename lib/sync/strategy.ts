import { randomBytes } from 'node:crypto';
import type { JobWithCollections, PassCheckpoint } from '../jobs/model';
import type { JobClusters } from '../migration/jobContext';
import type { Services } from '../services';
import type { ResumablePass } from './comparisonPass';

/**
 * The strategy that compares snapshots (lib/sync/snapshotDiffStrategy.ts). Named here, beside the
 * strategy interface, so StartSync can record it without importing the strategy and, through it,
 * the Milvus SDK (StartSync never connects: its bundle stays without the SDK).
 */
export const SNAPSHOT_DIFF = 'snapshot-diff';
/** The strategy that applies the capture endpoint's change log (lib/sync/captureStrategy.ts). */
export const CAPTURE = 'capture';

/** A new SyncState.digestEpoch: every shard digest kept before it is forgotten. */
export const newDigestEpoch = (): string => randomBytes(6).toString('hex');

/** What one sync cycle did. */
export interface CycleOutcome {
  /** Every change committed on the source before this instant is on the target once the cycle completed. */
  startedAt: Date;
  endedAt: Date;
  rowsCompared: number;
  /** Rows written or deleted on the target (or, when comparing only, found different). */
  inserted: number;
  updated: number;
  deleted: number;
  /** Where the target held something the sync did not leave there: writes by someone else. */
  externalWrites: string[];
  /** A few primary keys that differed (`<collectionKey>:<pk>`), for messages. */
  sampleKeys: string[];
  /** Strategy capture: where the next cycle reads the change log from (epoch ms). */
  changeLogCheckpoint?: number;
  /** The cycle compared every row (started then): the capture strategy's periodic comparison is timed from it. */
  comparedEveryRowAt?: Date;
  /** Shards (`<collectionKey>#<shardIndex>`) in which the cycle changed or found different rows (a comparison of every row only). */
  changedShards?: string[];
  /** A comparison of every row that could span invocations: how many step invocations it took (lib/sync/comparisonPass.ts). */
  invocations?: number;
  /** Rows found different after every captured change was applied: written to the source without passing through the capture endpoint. */
  bypassedWrites?: string[];
  /** A comparison of every row running beside the cycles (strategy capture): its checkpoint, recorded with this cycle. */
  pass?: PassCheckpoint;
  /**
   * The first comparison of every row has not ended: rows written to the source without passing
   * through an endpoint may still differ, whatever the lag says (the lag alert waits for it).
   */
  firstComparisonPending?: boolean;
}

export interface CycleContext {
  services: Services;
  job: JobWithCollections;
  clusters: JobClusters;
  /** false: compare only, write nothing (the cutover's verification). */
  apply: boolean;
  /** Compare only these shards (`<collectionKey>#<shardIndex>`): the verification's second look at what the drain changed. */
  onlyShards?: ReadonlySet<string>;
  /** Told each primary key found different (`collectionKey`, pk), as the comparison meets it. */
  onDifference?: (collectionKey: string, pk: string) => void;
  /**
   * Asked between parts of a cycle: true abandons the cycle (CycleAbandoned), so a stop-sync that
   * arrives mid-cycle starts the drain at once instead of after a whole pass.
   */
  abandon?: () => Promise<boolean>;
  /**
   * A comparison of every row may span invocations: it resumes from the checkpoint, stops taking
   * shards at the deadline (PassPaused) and reports each shard compared (lib/sync/comparisonPass.ts).
   * Without it a comparison runs whole, however long it takes.
   */
  resumable?: ResumablePass;
}

/** A cycle given up because `abandon` said so: nothing of it is recorded, the next cycle starts over. */
export class CycleAbandoned extends Error {
  constructor() {
    super('sync cycle abandoned');
    this.name = 'CycleAbandoned';
  }
}

/**
 * How the target is kept equal to a source that is still written to. A cycle makes the target
 * equal to the source as it was when the cycle started, so `now - startedAt` of the last
 * completed cycle bounds the target's staleness (the job's syncLagSeconds).
 *
 * SnapshotDiffStrategy works with any Milvus 2.3+ and Zilliz Cloud through the public API. A
 * strategy on Milvus's native replication (2.6.16+: UpdateReplicateConfiguration, then the
 * target's GetReplicateInfo checkpoint as `startedAt`) fits the same interface.
 */
export interface SyncStrategy {
  readonly name: string;
  runCycle(context: CycleContext): Promise<CycleOutcome>;
  /** Work a cycle left running beside the next ones, or left for the next cycle to record: the step runs another cycle before it returns. */
  busy?(): boolean;
  /** Stops work left running beside the cycles and waits for it (called before the step returns or fails: nothing runs on behind it). */
  stop?(): Promise<void>;
}
