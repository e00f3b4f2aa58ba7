import type { CopyBatch } from '../copyBatches';
import type { IdempotencyRecord } from './errors';
import type { CollectionProgress, CollectionsSummary, JobError, JobEvent, JobExecution, JobPhase, JobRecord, JobStatus, ShardRecord, SourceBaseline, SyncState, VerificationReport } from './model';

export interface ListJobsQuery {
  limit?: number;
  /** Opaque token from a previous page. */
  nextToken?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** The fields of a job a step may change, besides collections and shards (which have their own calls). */
export interface JobPatch {
  status?: JobStatus;
  phase?: JobPhase;
  error?: JobError;
  verification?: VerificationReport;
  executionArn?: string;
  startedAt?: string;
  endedAt?: string;
  sourceBaseline?: SourceBaseline;
  sync?: SyncState;
  writesStoppedAt?: string;
  /** Where the credentials of a cluster are now (a resume saves them again). */
  source?: JobRecord['source'];
  target?: JobRecord['target'];
  /** The job's executions, replaced as a whole. */
  executions?: JobExecution[];
  /** Appended to the job's warnings. */
  addWarnings?: string[];
}

/** The fields of a collection's item a step may change. */
export type CollectionPatch = Partial<Pick<CollectionProgress, 'status' | 'rowsTotal' | 'rowsCopied' | 'shardCount' | 'attempt' | 'duplicateKeys' | 'duplicateExamples'>>;

export interface ShardCheckpoint {
  jobId: string;
  collectionKey: string;
  index: number;
  attempt: number;
  /** The claim (claimShard) of the invocation saving: the write fails with ConflictError when another invocation claimed the shard since. */
  owner?: string;
  /** The checkpoint the caller read; the write fails with ConflictError when the stored one differs. */
  expectedCheckpoint: string | null;
  checkpoint: string | null;
  rowsDelta: number;
  done: boolean;
  /** With done: the shard's duplicate keys (lib/milvus/duplicates.ts), kept on the shard item. */
  duplicates?: { rows: number; examples: string[] };
}

/**
 * Job records, shards and events. Every write of a job item is conditional, so two executions
 * can never both advance one job; a lost race is a ConflictError.
 */
export interface JobStore {
  /**
   * Creates the job; a job with the same id already there is a ConflictError. With `lockTargets`
   * the job also takes, in the same transaction, a lock on every target collection it writes
   * (lib/jobs/targetLocks.ts); one held by a job that has not ended is a TargetLockedError.
   */
  create(job: JobRecord, options?: { lockTargets?: boolean }): Promise<JobRecord>;
  /** Lets go of the job's target locks (when it ends). Idempotent. */
  releaseTargetLocks(jobId: string): Promise<void>;
  /** Claims an idempotency key for a job; a key already claimed (and not expired) is an IdempotencyKeyTakenError. */
  claimIdempotencyKey(record: IdempotencyRecord): Promise<void>;
  /** Gives a claimed key back, only if it still names this job (its request created nothing). */
  releaseIdempotencyKey(key: string, jobId: string): Promise<void>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Newest first. */
  list(query?: ListJobsQuery): Promise<Page<JobRecord>>;
  /**
   * Applies the patch when the job's status is one of `allowedFrom` (any status when omitted).
   * Returns the updated job; a status outside `allowedFrom` is a ConflictError naming it.
   */
  update(jobId: string, patch: JobPatch, allowedFrom?: readonly JobStatus[]): Promise<JobRecord>;
  /**
   * Puts an ended job back into play (a resume): when its status is one of `allowedFrom`, applies
   * the patch, removes its `error` and `endedAt`, and takes its target locks again, all in one
   * transaction. A status outside `allowedFrom` is a ConflictError; a lock held by a job that has
   * not ended is a TargetLockedError (and nothing changes).
   */
  reopen(jobId: string, patch: JobPatch, allowedFrom: readonly JobStatus[]): Promise<JobRecord>;
  /**
   * Sets (replacing) the progress of the collections given, keyed by their key: one item each,
   * beside the job item, so a job of any number of collections fits. The job must exist.
   */
  putCollections(jobId: string, collections: CollectionProgress[]): Promise<void>;
  /** Changes one collection's item only (the job item is not written); a collection the job lacks is a PermanentError COLLECTION_NOT_FOUND. */
  updateCollection(
    jobId: string,
    key: string,
    patch: CollectionPatch,
  ): Promise<void>;
  getCollection(jobId: string, key: string): Promise<CollectionProgress | undefined>;
  /** A page of the job's collections in key order. */
  listCollections(jobId: string, query?: ListJobsQuery): Promise<Page<CollectionProgress>>;
  /** Every collection of the job in key order (every page read): for the steps that act on all of them. */
  allCollections(jobId: string): Promise<CollectionProgress[]>;
  /** Counts by status and row totals of the job's collections, read without their names or mappings. */
  summarizeCollections(jobId: string): Promise<CollectionsSummary>;
  /** Replaces every shard of the collection with these (a re-plan deletes the old ones). */
  replaceShards(jobId: string, collectionKey: string, shards: ShardRecord[]): Promise<void>;
  /**
   * Stores the copy batches of a plan (lib/copyBatches.ts), one item each, replacing those of the
   * same numbers; a plan only reads the batch numbers it handed out, so older ones left over are never read.
   */
  putCopyBatches(jobId: string, batches: CopyBatch[]): Promise<void>;
  getCopyBatch(jobId: string, batch: number): Promise<CopyBatch | undefined>;
  getShard(jobId: string, collectionKey: string, index: number): Promise<ShardRecord | undefined>;
  listShards(jobId: string, collectionKey: string): Promise<ShardRecord[]>;
  /**
   * Makes the calling copy invocation the shard's owner (ShardRecord.owner) and returns its claim.
   * The last claim wins: an older invocation still running learns it from the shard item and
   * stops. A shard gone or of another attempt is a ConflictError.
   */
  claimShard(jobId: string, collectionKey: string, index: number, attempt: number): Promise<string>;
  /**
   * Atomically moves the shard's checkpoint (only if it still equals expectedCheckpoint and the
   * shard's attempt matches) and adds rowsDelta to the collection's rowsCopied (its own item; the
   * job item is not written, so shards of different collections never contend).
   */
  checkpointShard(update: ShardCheckpoint): Promise<void>;
  /**
   * Online, snapshot diff: keeps the digest of what the sync left in the shard's range on the
   * target (ShardRecord.targetDigest), on the shard's item only. A shard of another attempt (the
   * collection was re-planned) is a ConflictError.
   */
  setShardDigest(jobId: string, collectionKey: string, index: number, attempt: number, digest: { epoch: string; value: string }): Promise<void>;
  appendEvent(jobId: string, event: Omit<JobEvent, 'jobId' | 'at'> & { at?: string }): Promise<JobEvent>;
  /** Oldest first. */
  listEvents(jobId: string, query?: ListJobsQuery): Promise<Page<JobEvent>>;
}
