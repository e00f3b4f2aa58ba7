import * as z from 'zod';
import { CollectionProgress, CollectionsSummary, JobError, JobEvent, JobExecution, JobOptions, JobPhase, JobStatus, JobType, SyncState, VerificationReport } from '../jobs/model';
import type { PreflightReport } from '../migration/inspect';

/**
 * What the API answers, defined once: the zod schemas of its views. The service builds them
 * (lib/api/service.ts, toJobView), the OpenAPI document describes them (lib/api/openapi.ts turns
 * these schemas into its response schemas) and the CLI reads them (cli/). Each type is the schema's
 * output type, so the service, the document and the CLI cannot disagree on a field.
 */

const time = (description: string) => z.string().meta({ format: 'date-time', description });

/** What the API shows of a collection. */
export const CollectionView = CollectionProgress.pick({
  key: true,
  sourceDb: true,
  sourceName: true,
  targetDb: true,
  targetName: true,
  status: true,
  rowsTotal: true,
  rowsCopied: true,
  duplicateKeys: true,
  duplicateExamples: true,
}).extend({ percent: z.number().min(0).max(100).describe('rowsCopied of rowsTotal, one decimal, at most 100') });
export type CollectionView = z.output<typeof CollectionView>;

/** What the API shows of the job's sync state: everything but the internal per shard digests. */
export const SyncView = SyncState.omit({ digestEpoch: true });
export type SyncView = z.output<typeof SyncView>;

/** The verification of a finished job, as the job records it. */
const VerificationView = VerificationReport;
type VerificationView = z.output<typeof VerificationView>;

/** Why a job failed, as the job records it. */
const JobErrorView = JobError;
type JobErrorView = z.output<typeof JobErrorView>;

/** What the API shows of one execution of a resumed job: when it ran, how it ended, the rows a resume kept. */
export const ExecutionView = JobExecution.omit({ executionArn: true });
export type ExecutionView = z.output<typeof ExecutionView>;

/** What the API shows of a job: never a credential, nor where credentials are kept. */
export const JobView = z
  .object({
    jobId: z.string(),
    type: JobType,
    status: JobStatus,
    phase: JobPhase,
    progressPercent: z.number().min(0).max(100),
    source: z.object({ uri: z.string().describe('The uri as given, without any user:password@ part') }),
    target: z.object({ uri: z.string().describe('The uri as given, without any user:password@ part') }),
    collectionSummary: CollectionsSummary.describe(
      'What the collections add up to: how many, how many in each status, rows to copy and copied. The collections themselves: GET /migrations/{id}/collections',
    ),
    options: JobOptions.optional().describe('The options the job runs with (the capture endpoint reads syncStrategy, switchover and captureWriteTimeoutSeconds here)'),
    warnings: z.array(z.string()),
    error: JobErrorView.optional().describe('Why the job failed (status FAILED)'),
    verification: VerificationView.optional(),
    createdAt: time('When the job was created'),
    updatedAt: time('When the job record last changed'),
    startedAt: time('When Preflight started').optional(),
    endedAt: time('When the job ended').optional(),
    executions: z
      .array(ExecutionView)
      .optional()
      .describe('Resumed jobs: every execution, oldest first (run 1 from creation, one more per resume), with how each earlier one ended and the rows each resume kept'),
    syncLagSeconds: z
      .number()
      .nonnegative()
      .nullable()
      .optional()
      .describe('Online: an upper bound on the target staleness in seconds; null until the first sync cycle completes'),
    sync: SyncView.optional().describe('Online: the incremental sync, once started'),
    writesStoppedAt: time('Online: when the operator confirmed that writes stopped').optional(),
    cutoverSeconds: z.number().nonnegative().optional().describe('Online, once SUCCESSFUL: seconds from the stop-sync confirmation to the end of the job'),
  })
  .describe('A migration job. Never holds a credential, nor where credentials are kept.');
export type JobView = z.output<typeof JobView>;

/** An event of a job's log, as the events route answers it (the record as stored). */
export const EventView = JobEvent;
export type EventView = z.output<typeof EventView>;

/** A page of a list answer. */
const page = <S extends z.ZodType>(item: S, what: string) =>
  z
    .object({
      items: z.array(item),
      nextToken: z.string().optional().describe('Pass as `nextToken` for the next page; absent on the last page'),
    })
    .describe(what);

export const JobPage = page(JobView, 'Jobs, newest first');
export type JobPage = z.output<typeof JobPage>;
export const EventPage = page(EventView, 'Events of a job, oldest first');
export type EventPage = z.output<typeof EventPage>;
export const CollectionPage = page(CollectionView, "Collections of a job, in key order (`<sourceDb>.<sourceName>`)");
export type CollectionPage = z.output<typeof CollectionPage>;

const ClusterReport = z.object({
  uri: z.string(),
  reachable: z.boolean(),
  reason: z.string().optional().describe('Why not, when not reachable'),
  version: z.string().optional(),
});

/**
 * The answer of `POST /migrations/preflight`. Its type is the domain's PreflightReport
 * (lib/migration/inspect.ts, built from the preflight checks and the estimate); the check below
 * keeps this schema and that type equal.
 */
export const PreflightReportView = z
  .object({
    ok: z.boolean().describe('True when a job with this request would pass Preflight now'),
    source: ClusterReport,
    target: ClusterReport.extend({ databasesToCreate: z.array(z.string()) }),
    collections: z.array(
      z.object({
        source: z.string(),
        target: z.string(),
        action: z.enum(['create', 'append', 'skip']),
        rows: z.number().int().nonnegative(),
        estimatedBytes: z.number().nonnegative(),
        warnings: z.array(z.string()),
      }),
    ),
    problems: z.array(z.object({ code: z.string(), message: z.string() })).describe('Everything that would fail the job, each with the code it would fail with'),
    estimate: z
      .object({
        rows: z.number().nonnegative(),
        estimatedBytes: z.number().nonnegative(),
        shards: z.number().nonnegative(),
        batches: z.number().nonnegative(),
        durationSeconds: z.number().nonnegative(),
        costUsd: z.object({ lambda: z.number(), stepFunctions: z.number(), dynamoDb: z.number(), total: z.number() }),
        assumptions: z.array(z.string()),
      })
      .optional()
      .describe('Absent when a cluster cannot be reached'),
  })
  .describe('What a job with this request would do, checked without writing anything');

/** One bad field of a request. */
export const FieldIssue = z.object({ path: z.string(), message: z.string() });
export type FieldIssue = z.output<typeof FieldIssue>;

/** The body of every error answer. */
export const ErrorView = z
  .object({
    error: z.object({
      code: z.string().describe('Stable and machine readable: INVALID_REQUEST, MALFORMED_JSON, JOB_NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, INTERNAL...'),
      message: z.string().describe('One readable sentence; for INVALID_REQUEST every bad field as `path: rule`'),
      issues: z.array(FieldIssue).optional().describe('INVALID_REQUEST from the service: one entry per bad field'),
    }),
  })
  .describe('Every error the API answers (API Gateway refusals of the body model included)');
export type ErrorView = z.output<typeof ErrorView>;

/*
 * PreflightReport stays a domain type of lib/migration (its parts come from the preflight checks
 * and the estimate); this compile-time check fails `tsc` when it and its schema drift apart.
 */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
type Describes<S extends z.ZodType, T> = SameKeys<z.output<S>, T> extends true ? ([z.output<S>] extends [T] ? ([T] extends [z.output<S>] ? true : false) : false) : false;
true satisfies Describes<typeof PreflightReportView, PreflightReport>;
