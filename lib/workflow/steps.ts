/**
 * The contract between the state machine (infra/) and the step handlers (functions/steps/).
 * Each Lambda carries its step id in the STEP_ID environment variable, which is how the local
 * runtime maps a function in the synthesized template back to its handler.
 */
export const STEP_IDS = [
  'preflight',
  'planShards',
  // Each child execution of the copy's Distributed Maps reads its batch (lib/copyBatches.ts).
  'loadCopyBatch',
  'createTargetCollection',
  'copyShard',
  'buildIndexes',
  'verify',
  'finalize',
  'recordFailure',
  'copyAccessControl',
  // Online (issue 4): the sync loop and the cutover.
  'startSync',
  'syncChanges',
  'drainChanges',
  'verifySync',
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** Input of the execution and of every job-wide step. */
export interface JobInput {
  jobId: string;
}

export interface CollectionInput extends JobInput {
  collectionKey: string;
}

export interface ShardInput extends CollectionInput {
  shardIndex: number;
}

export interface PlanShardsOutput {
  /**
   * Numbers of the copy batches PlanShards stored (lib/copyBatches.ts), iterated by the
   * Distributed Maps CreateCollections, CopyCollections and IndexCollections, one child execution
   * each. Bounded (COPY_BATCH_LIMITS.batches), whatever the number of collections or shards.
   */
  batches: number[];
  /** Shards of one batch copied at once (the job's options.shardConcurrency). */
  shardConcurrency: number;
}

export interface CopyBatchInput extends JobInput {
  batch: number;
}

export interface CopyShardOutput {
  /** False when the step stopped at its time budget; the state machine calls it again. */
  done: boolean;
  rowsCopied: number;
}

export type VerifyOutcome = 'PASSED' | 'RECOPY';
export interface VerifyOutput {
  outcome: VerifyOutcome;
}

/** Preflight's answer; `type` routes the state machine to the offline finish or the online sync. */
export interface PreflightOutput {
  type: 'offline' | 'online';
  collections: number;
  rows: number;
}

/** SyncChanges runs sync cycles for a time budget, then answers where the loop goes. */
export interface SyncChangesOutput {
  /** SYNCING: wait `waitSeconds` and sync again; WRITES_STOPPED: the operator confirmed, cut over. */
  state: 'SYNCING' | 'WRITES_STOPPED';
  /** Upper bound on the target's staleness when the step returned (null before a first complete cycle). */
  syncLagSeconds: number | null;
  waitSeconds: number;
}

/** How long a step may work: it stops at `deadline` (epoch ms) and answers done: false, and the state machine calls it again. */
export interface StepBudget {
  deadline: number;
}

/** DrainChanges: done false when its comparison of every row goes on in the next invocation. */
export interface DrainChangesOutput {
  done: boolean;
  rowsCompared: number;
  changed: number;
}

/** VerifySync: done false when its comparison of every row goes on in the next invocation; passed once done (a failure is an error). */
export type VerifySyncOutput = { done: false; rowsCompared: number } | { done: true; passed: true; rowsCompared: number };

/** What a Catch puts at $.error: locally Cause is the message, on AWS a JSON string. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

export interface RecordFailureInput extends JobInput {
  error: CaughtError;
  step?: string;
}
