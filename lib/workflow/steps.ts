/**
 * The contract between the state machine (infra/) and the step handlers (functions/steps/).
 * Each Lambda carries its step id in the STEP_ID environment variable, which is how the local
 * runtime maps a function in the synthesized template back to its handler.
 */
export const STEP_IDS = [
  'preflight',
  'planShards',
  'createTargetCollection',
  'copyShard',
  'buildIndexes',
  'verify',
  'finalize',
  'recordFailure',
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

export interface PlannedCollection {
  collectionKey: string;
  /** Shard indexes, iterated by the CopyShards Map. */
  shards: number[];
}

export interface PlanShardsOutput {
  collections: PlannedCollection[];
  /** Copy shards of one collection that run at once (the job's options.shardConcurrency). */
  shardConcurrency: number;
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

/** What a Catch puts at $.error: locally Cause is the message, on AWS a JSON string. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

export interface RecordFailureInput extends JobInput {
  error: CaughtError;
  step?: string;
}
