// A namespace import lets esbuild keep only the zod functions used: `import { z }` takes zod's whole
// `z` object, its 40-odd locales included (460 KB of every Lambda bundle instead of 100 KB).
import * as z from 'zod';

/** Statuses are data: the API, the store and the state machine all read them from here. */
export const JOB_STATUSES = [
  'PENDING',
  'IN_PROGRESS',
  'SYNCING', // online: full copy done, changes streaming (issue 4)
  'CUTTING_OVER', // online: writes stopped, draining and switching (issue 4)
  'SUCCESSFUL',
  'FAILED',
  'CANCELLED',
] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;

const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCESSFUL', 'FAILED', 'CANCELLED'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);

export const JobType = z.enum(['offline', 'online']);
export type JobType = z.infer<typeof JobType>;

/** What the job is doing now; one phase per group of states in the state machine graph. */
export const JobPhase = z.enum([
  'QUEUED',
  'PREFLIGHT',
  'PLANNING',
  'FULL_COPY',
  'INDEXING',
  'VERIFICATION',
  'INCREMENTAL_SYNC',
  'CUTOVER',
  'FINALIZATION',
  'DONE',
]);
export type JobPhase = z.infer<typeof JobPhase>;

export const COLLECTION_STATUSES = ['PENDING', 'CREATED', 'COPYING', 'COPIED', 'INDEXED', 'VERIFIED', 'RECOPY', 'FAILED'] as const;
export const CollectionStatus = z.enum(COLLECTION_STATUSES);
export type CollectionStatus = z.infer<typeof CollectionStatus>;

/**
 * Per collection progress under a stable key (`<sourceDb>.<sourceName>`), in an item of its own
 * beside the job item (lib/jobs/table.ts): a job of 10,000 collections fits, and a progress update
 * rewrites one small item, not the job.
 */
export const CollectionProgress = z.object({
  key: z.string(),
  sourceDb: z.string(),
  sourceName: z.string(),
  targetDb: z.string(),
  targetName: z.string(),
  status: CollectionStatus,
  rowsTotal: z.number().int().nonnegative(),
  rowsCopied: z.number().int().nonnegative(),
  shardCount: z.number().int().nonnegative(),
  /** 1 for the first copy, 2 after a verification mismatch forced a re-copy. */
  attempt: z.number().int().positive(),
  /** The target collection existed before the job and rows are added to it (options.existingTarget 'append'). */
  append: z.boolean().optional(),
  /** Rows the target collection held before the job (append only): verification expects these plus the source's. */
  rowsBefore: z.number().int().nonnegative().optional(),
  /**
   * Source rows beyond one per primary key (keys inserted more than once; count(*) counts each row,
   * a query returns one per key): the target holds one row per key, so verification expects the
   * source's count minus these. Set by verification.
   */
  duplicateKeys: z.number().int().nonnegative().optional(),
  /** A few of the duplicated keys (at most 5, each cut to 100 characters). */
  duplicateExamples: z.array(z.string()).max(5).optional(),
});
export type CollectionProgress = z.infer<typeof CollectionProgress>;

export const JobError = z.object({
  /** Stable, machine readable: e.g. SOURCE_UNREACHABLE, VERIFICATION_MISMATCH, INTERNAL. */
  code: z.string(),
  /** One readable sentence for the operator. Never contains credentials. */
  reason: z.string(),
  /** The state machine step that failed, when known. */
  step: z.string().optional(),
});
export type JobError = z.infer<typeof JobError>;

const CollectionVerification = z.object({
  key: z.string(),
  sourceRows: z.number().int().nonnegative(),
  targetRows: z.number().int().nonnegative(),
  /** Source rows beyond one per key (duplicate keys): the target is expected to hold sourceRows minus these. */
  duplicateKeys: z.number().int().nonnegative().optional(),
  match: z.boolean(),
  /**
   * Online with switchover: applications wrote to the target after the switch, so the counts may
   * differ rightly; the rows compared (less the keys written after the switch) decide `match`.
   */
  writtenAfterSwitch: z.boolean().optional(),
});
/** Entries a verification report lists: every collection of a small job, the mismatches of a large one (the report is on the job item). */
export const VERIFICATION_ENTRIES_LISTED = 100;
export const VerificationReport = z.object({
  at: z.string(),
  sourceCollections: z.number().int().nonnegative(),
  targetCollections: z.number().int().nonnegative(),
  /** Collections whose entity counts match. */
  matched: z.number().int().nonnegative().optional(),
  /** Every collection when the job has at most VERIFICATION_ENTRIES_LISTED, else the first mismatches (at most that many). */
  collections: z.array(CollectionVerification),
  passed: z.boolean(),
});
export type VerificationReport = z.infer<typeof VerificationReport>;
type CollectionVerification = z.infer<typeof CollectionVerification>;

/** A report whose size does not grow with the number of collections: see VerificationReport.collections. */
export function verificationReport(report: Omit<VerificationReport, 'collections' | 'matched'>, entries: readonly CollectionVerification[]): VerificationReport {
  const listed = entries.length <= VERIFICATION_ENTRIES_LISTED ? entries : entries.filter((e) => !e.match).slice(0, VERIFICATION_ENTRIES_LISTED);
  return { ...report, matched: entries.filter((e) => e.match).length, collections: [...listed] };
}

/** A cluster as stored on the job: where it is and where its credentials are, never the credentials. */
const ClusterRef = z.object({
  /** The uri with any user:password@ part removed. */
  uri: z.string(),
  /** Opaque handle for the credential store (a Secrets Manager ARN on AWS, an in-memory id locally). */
  credentialsRef: z.string(),
  /**
   * What kind of credentials the request gave, never what they were: `secret` (the user's own
   * secretArn, never deleted), `inline` (token, username/password, tls or a user:password@ uri: saved
   * for the job and deleted when it ends), `none` (the uri alone). A resume needs `inline` ones again.
   */
  credentials: z.enum(['inline', 'secret', 'none']).optional(),
});
type ClusterRef = z.infer<typeof ClusterRef>;

/** A user's reshaping of a collection's schema on the target (lib/milvus/mapping.ts applies it). */
export const SchemaMapping = z.object({
  description: z.string().optional(),
  autoId: z.boolean().optional(),
  fields: z.record(z.string(), z.object({ nullable: z.boolean().optional(), defaultValue: z.union([z.string(), z.number(), z.boolean()]).nullable().optional() })).optional(),
  partitionKey: z.object({ field: z.string(), numPartitions: z.number().int().optional() }).optional(),
  dynamicField: z.boolean().optional(),
  shardsNum: z.number().int().optional(),
});
export type SchemaMapping = z.infer<typeof SchemaMapping>;

const CollectionScope = z.object({ name: z.string(), targetName: z.string().optional(), mapping: SchemaMapping.optional() });
const DatabaseScope = z.object({
  name: z.string(),
  targetName: z.string().optional(),
  collections: z.array(CollectionScope).optional(),
});
type DatabaseScope = z.infer<typeof DatabaseScope>;

export const IndexPolicy = z.enum(['autoindex', 'preserve']);
/** What a job does with a target collection that exists already: refuse (TARGET_COLLECTION_EXISTS), leave it alone, or add the rows to it. */
export const ExistingTargetPolicy = z.enum(['fail', 'skip', 'append']);
export const SyncStrategyName = z.enum(['snapshot-diff', 'capture']);
export type ExistingTargetPolicy = z.infer<typeof ExistingTargetPolicy>;
export const JobOptions = z.object({
  indexPolicy: IndexPolicy.default('autoindex'),
  /** Rows a copy shard aims for; the planner splits collections by primary key range into shards of this size. */
  rowsPerShard: z.number().int().positive().default(200_000),
  /** Copy shards of one collection that run at once. */
  shardConcurrency: z.number().int().min(1).max(40).default(4),
  /** Approximate bytes per read/write batch, kept under Milvus's request limits. */
  batchBytes: z.number().int().positive().default(1024 * 1024),
  /**
   * A fixed number of rows per read/write batch, at most. Unset (the default), each copy stream starts
   * at 256 rows (and batchBytes) and doubles its batches while its throughput grows, up to Milvus's
   * limits (lib/milvus/keyRange/batchSize.ts): 256 is where milvus-lite's CPU per row is lowest on
   * loopback, and clusters milliseconds away need bigger calls.
   */
  batchRows: z.number().int().min(1).max(16_384).optional(),
  existingTarget: ExistingTargetPolicy.default('fail'),
  /** Load every migrated collection on the target with the source's replica count (the default leaves them unloaded). */
  loadAfterMigration: z.boolean().default(false),
  /** Copy users, roles and their grants where both clusters allow it (passwords cannot be read back: see lib/migration/copyAccessControl.ts). */
  includeRbac: z.boolean().default(false),
  /** Online: the lag under which the `Migration Sync Lag Below Threshold` alert goes out (once). */
  lagAlertSeconds: z.number().positive().default(10),
  /** Online: how long sync runs without the operator's confirmation that writes stopped before the job fails. */
  syncTimeoutSeconds: z.number().int().positive().default(7 * 24 * 3600),
  /** Online: the Wait between two sync invocations of the state machine's loop. */
  lagPollSeconds: z.number().int().min(1).max(300).default(5),
  /**
   * Online: how the target is kept in sync. 'snapshot-diff' compares every row on each pass (no
   * proxy needed); 'capture' applies the change log the capture endpoint keeps (lib/capture), so
   * the lag follows the write rate, not the data.
   */
  syncStrategy: SyncStrategyName.default('snapshot-diff'),
  /** Online, capture: after SUCCESSFUL the capture endpoint forwards every call to the target. */
  switchover: z.boolean().default(false),
  /**
   * Online, capture: the longest a write forwarded by the capture endpoint may take (its deadline).
   * A logged write without an outcome is re-read once this has passed (its endpoint died).
   */
  captureWriteTimeoutSeconds: z.number().int().min(1).max(600).default(30),
  /**
   * Online, capture: seconds between two comparisons of every row during the sync. A comparison finds
   * writes that reached the source without passing through a capture endpoint (and copies them);
   * between two, the sync reads only the change log. Its cost grows with the data: hours apart.
   */
  comparisonIntervalSeconds: z.number().int().min(1).max(30 * 24 * 3600).default(6 * 3600),
});
export type JobOptions = z.infer<typeof JobOptions>;

/** One pass of the sync over every collection: the target made equal to the source as read in that pass. */
const SyncCycle = z.object({
  startedAt: z.string(),
  endedAt: z.string(),
  rowsCompared: z.number().int().nonnegative(),
  inserted: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  deleted: z.number().int().nonnegative(),
  /**
   * A comparison of every row: the shards (`<collectionKey>#<shardIndex>`) where it changed rows,
   * when they are at most MAX_RECORDED_CHANGED_SHARDS (the item stays small); absent when more.
   */
  changedShards: z.array(z.string()).optional(),
});
type SyncCycle = z.infer<typeof SyncCycle>;
/**
 * More changed shards than this are not listed on the job (lastCycle.changedShards, and a pass's):
 * a shard's name may be 520 bytes, and both lists sit on the job item beside the largest request
 * (test/jobs/itemSize.test.ts). More than this, the verification compares every shard again.
 */
export const MAX_RECORDED_CHANGED_SHARDS = 20;

/**
 * A comparison of every row in progress, when it spans step invocations (lib/sync/comparisonPass.ts):
 * a Lambda invocation ends after 15 minutes, and reading every row of both clusters may take longer.
 * Shards are taken in one fixed order (collections by key, shards by index).
 */
export const PassCheckpoint = z.object({
  /** Which comparison: a sync cycle's, the drain's, the verification's, the verification's after a switchover. */
  purpose: z.enum(['sync', 'drain', 'verify', 'afterSwitch']),
  /** When the pass started: on completion every change committed on the source before it is on the target (when it applies). */
  startedAt: z.string(),
  /** How many shards the pass compares: a checkpoint over another number of shards is not resumed. */
  shards: z.number().int().nonnegative(),
  /** Every shard before this position is compared. */
  next: z.number().int().nonnegative(),
  /** Positions at or after `next` compared too (out of order: shards are compared concurrently). */
  ahead: z.array(z.number().int().nonnegative()),
  invocations: z.number().int().positive(),
  rowsCompared: z.number().int().nonnegative(),
  inserted: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  deleted: z.number().int().nonnegative(),
  sampleKeys: z.array(z.string()),
  /** Shards where rows differed; MAX_RECORDED_CHANGED_SHARDS + 1 entries at most (then the list means "too many"). */
  changedShards: z.array(z.string()),
  externalWrites: z.array(z.string()),
  /** After a switchover: rows copied from the source so far, differences that could not be attributed, what bypassed the endpoints. */
  repaired: z.number().int().nonnegative().optional(),
  unattributed: z.number().int().nonnegative().optional(),
  bypassed: z.array(z.string()).optional(),
});
export type PassCheckpoint = z.infer<typeof PassCheckpoint>;

/** Online: the incremental sync's state, written only by the sync steps. */
export const SyncState = z.object({
  /** Which SyncStrategy runs (lib/sync/strategy.ts). */
  strategy: z.string(),
  startedAt: z.string(),
  /** Sync fails the job (SYNC_DEADLINE_PASSED) when writes are not confirmed stopped by then. */
  deadlineAt: z.string(),
  /** Start of the last completed cycle: every change committed on the source before it is on the target. */
  syncedThrough: z.string().optional(),
  cycles: z.number().int().nonnegative(),
  lastCycle: SyncCycle.optional(),
  /** Rows written or deleted on the target by the sync, since it started. */
  inserted: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  deleted: z.number().int().nonnegative(),
  /** When the lag first dropped under options.lagAlertSeconds (the alert goes out once). */
  lagAlertSentAt: z.string().optional(),
  /**
   * The shard digests (ShardRecord.targetDigest) of this sync: one stamped otherwise is forgotten.
   * A new epoch forgets every digest in one write of the job item (a sync resumed, a pass abandoned
   * half written), whatever the number of shards. The digests live on the shard items: one per
   * shard on the job item passed DynamoDB's 400 KB at about 10,000 collections.
   */
  digestEpoch: z.string().optional(),
  /** Strategy capture: epoch ms from which the next cycle reads the change log (every change logged before it is on the target). */
  changeLogCheckpoint: z.number().int().nonnegative().optional(),
  /** Strategy capture: when the last comparison of every row started (the next is due options.comparisonIntervalSeconds later). */
  lastComparisonAt: z.string().optional(),
  /**
   * Strategy capture with switchover: when the drain ended and the capture endpoints were told to
   * send every call to the target. The verification runs after it, while applications write to the target.
   */
  switchedAt: z.string().optional(),
  /** Set while the verification after the switch fences writes to copy rows that bypassed the endpoints. */
  repairFencedAt: z.string().optional(),
  /** A comparison of every row that has not ended yet (it continues in the next invocation). */
  pass: PassCheckpoint.optional(),
});
export type SyncState = z.infer<typeof SyncState>;

/** What a source collection looked like when the online job started; a difference later fails the job (lib/sync/guards.ts). */
export const CollectionBaseline = z.object({
  db: z.string(),
  name: z.string(),
  /** Digest of the fields and functions as described (types, params, nullable, defaults, keys). */
  schemaDigest: z.string(),
  /** `name:type` of each field, to name what AlterCollectionField changed. */
  fields: z.record(z.string(), z.string()),
  description: z.string(),
  properties: z.record(z.string(), z.string()),
  aliases: z.array(z.string()),
  partitions: z.array(z.string()),
});
export type CollectionBaseline = z.infer<typeof CollectionBaseline>;

export const SourceBaseline = z.object({
  takenAt: z.string(),
  /** Per database: its properties and the collections it holds. */
  databases: z.record(z.string(), z.object({ properties: z.record(z.string(), z.string()), collections: z.array(z.string()) })),
  /** Keyed by CollectionProgress.key. */
  collections: z.record(z.string(), CollectionBaseline),
  /** Bulk import job ids known at the start; null when the server cannot list them. */
  importJobs: z.array(z.string()).nullable(),
});
export type SourceBaseline = z.infer<typeof SourceBaseline>;

/** One state machine execution of a job: the first runs from creation, each resume starts another. */
export const JobExecution = z.object({
  /** 1 for the execution started at creation, 2 for the first resume, and so on. */
  run: z.number().int().positive(),
  executionArn: z.string().optional(),
  startedAt: z.string(),
  /** How the execution ended, recorded when the job is resumed (the job itself keeps the last one's). */
  endedAt: z.string().optional(),
  status: JobStatus.optional(),
  error: JobError.optional(),
  /** Resumes: rows copied by the earlier executions, up to their checkpoints, that this one keeps. */
  rowsKept: z.number().int().nonnegative().optional(),
});
export type JobExecution = z.infer<typeof JobExecution>;

export const JOB_SCHEMA_VERSION = 1;

export const JobRecord = z.object({
  schemaVersion: z.literal(JOB_SCHEMA_VERSION),
  jobId: z.string(),
  type: JobType,
  status: JobStatus,
  phase: JobPhase,
  source: ClusterRef,
  target: ClusterRef,
  databases: z.array(DatabaseScope),
  options: JobOptions,
  warnings: z.array(z.string()),
  error: JobError.optional(),
  verification: VerificationReport.optional(),
  /** Online: the source as it was when the job started (guards compare against it). */
  sourceBaseline: SourceBaseline.optional(),
  /** Online: the incremental sync's state. */
  sync: SyncState.optional(),
  /** Online: when the operator confirmed that writes to the source stopped (stop-sync); cutover starts. */
  writesStoppedAt: z.string().optional(),
  /** The state machine execution driving the job. */
  executionArn: z.string().optional(),
  /** Every execution of the job, oldest first (absent on jobs created before resumes existed). */
  executions: z.array(JobExecution).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  /**
   * Revision of the job item: every write of it adds 1. A counter, not a lock: no write is
   * conditioned on it. What keeps writes correct is their own conditions (the status a change
   * needs, a shard's checkpoint). Collection progress lives in items of its own and does not move it.
   */
  version: z.number().int().nonnegative(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** A job with every collection's progress, keyed by CollectionProgress.key (read from the collection items). */
export type JobWithCollections = JobRecord & { collections: Record<string, CollectionProgress> };

/** What the job's collections add up to: what a view of the job shows instead of every collection. */
export const CollectionsSummary = z.object({
  total: z.number().int().nonnegative(),
  /** Every status, 0 when no collection has it (an object of known keys: JSON Schema and API Gateway describe it plainly). */
  byStatus: z.object(Object.fromEntries(COLLECTION_STATUSES.map((status) => [status, z.number().int().nonnegative()])) as Record<CollectionStatus, z.ZodNumber>),
  rowsTotal: z.number().int().nonnegative(),
  rowsCopied: z.number().int().nonnegative(),
});
export type CollectionsSummary = z.infer<typeof CollectionsSummary>;

/** A contiguous primary key range of one collection, copied in batches behind a checkpoint. */
export const ShardRecord = z.object({
  jobId: z.string(),
  collectionKey: z.string(),
  index: z.number().int().nonnegative(),
  /** Primary keys as strings (Int64 in decimal, so no precision is lost); null means unbounded. */
  lowerExclusive: z.string().nullable(),
  upperInclusive: z.string().nullable(),
  /** The partition the range lies in (collections with partitions besides `_default` are copied partition by partition). */
  partition: z.string().optional(),
  /** Last primary key written to the target; null before the first batch. */
  checkpoint: z.string().nullable(),
  rowsCopied: z.number().int().nonnegative(),
  done: z.boolean(),
  /** Which collection attempt this shard belongs to: a re-copy replans the shards with attempt + 1. */
  attempt: z.number().int().positive(),
  /**
   * The copy invocation that holds the shard (JobStore.claimShard): each one claims it when it
   * starts, so one of a failed execution still running, or a duplicate, stops before it writes.
   */
  owner: z.string().optional(),
  /** Source rows of the range beyond one per key (count(*) minus the distinct keys copied), counted when the shard is done (offline). */
  duplicateRows: z.number().int().nonnegative().optional(),
  /** A few of those duplicated keys (lib/milvus/duplicates.ts bounds them). */
  duplicateExamples: z.array(z.string()).optional(),
  /** Online, snapshot diff: digest of what the sync left in the range on the target, to notice writes made there by others (valid in its epoch: SyncState.digestEpoch). */
  targetDigest: z.object({ epoch: z.string(), value: z.string() }).optional(),
  updatedAt: z.string(),
});
export type ShardRecord = z.infer<typeof ShardRecord>;

export const JobEvent = z.object({
  jobId: z.string(),
  at: z.string(),
  /** PascalCase, e.g. JobCreated, PhaseStarted, CollectionCopied, VerificationFailed, JobFailed. */
  type: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const collectionKey = (db: string, name: string): string => `${db}.${name}`;

/** The job's collections by the source's database and collection name (what a capture endpoint logs), for mapping a logged write to its collection. */
export function collectionsBySourceName(job: JobWithCollections): Map<string, CollectionProgress> {
  return new Map(Object.values(job.collections).map((c) => [collectionKey(c.sourceDb, c.sourceName), c]));
}
