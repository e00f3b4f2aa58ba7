import { createHash, randomBytes } from 'node:crypto';
import { ClusterConnection, credentialsOf, redactUri } from '../cluster';
import type { CredentialStore } from '../credentials/store';
import { ConflictError, JobNotFoundError } from '../errors';
import {
  JOB_SCHEMA_VERSION,
  JOB_STATUSES,
  isTerminal,
  type CollectionProgress,
  type CollectionsSummary,
  type CollectionStatus,
  type JobError,
  type JobExecution,
  type JobRecord,
  type JobStatus,
} from '../jobs/model';
import { IdempotencyKeyTakenError, type IdempotencyRecord } from '../jobs/errors';
import { jobProgressPercent } from '../jobs/progress';
import { syncLagSeconds } from '../sync/lag';
import type { JobStore } from '../jobs/store';
import type { WorkflowStarter } from '../workflow/starter';
import type { ClusterCredentials } from '../cluster';
import type { PreflightReport } from '../migration/inspect';
import type { MilvusGateway } from '../milvus';
import { ValidationError, type FieldIssue } from './errors';
import type { CollectionPage, CollectionView, EventPage, ExecutionView, JobPage, JobView, SyncView } from './views';
import { CreateMigrationBody, IdempotencyKey, JobIdParameter, ListCollectionsQuery, ListEventsQuery, ListMigrationsQuery, parseRequest, ResumeMigrationBody, StopSyncBody } from './requests';

/** How long an Idempotency-Key names its job: DynamoDB's TTL removes the key item after that. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

export interface CreateOptions {
  /** The `Idempotency-Key` header: the same key and body create one job however often they are sent. */
  idempotencyKey?: string;
}

export interface CreateOutcome {
  job: JobView;
  /** True when the key named a job created before: nothing new was created. */
  replayed: boolean;
}

export interface MigrationServiceOptions {
  jobs: JobStore;
  credentials: CredentialStore;
  workflow: WorkflowStarter;
  clock?: () => Date;
  newJobId?: () => string;
  /** How preflight requests connect (default: the SDK with PREFLIGHT_TIMEOUT_MS per call). */
  openCluster?: (credentials: ClusterCredentials) => MilvusGateway;
}

const NON_TERMINAL: readonly JobStatus[] = JOB_STATUSES.filter((status) => !isTerminal(status));
const DONE_COLLECTION: readonly CollectionStatus[] = ['COPIED', 'INDEXED', 'VERIFIED'];
/** Collections whose copied rows a resume keeps: a PENDING one has none, a RECOPY one is dropped and copied again. */
const KEPT_COLLECTION: readonly CollectionStatus[] = ['CREATED', 'COPYING', 'COPIED', 'INDEXED', 'VERIFIED'];

/** The API's domain logic, free of HTTP: every input is validated here, every answer is a view. */
export class MigrationService {
  private readonly jobs: JobStore;
  private readonly credentials: CredentialStore;
  private readonly workflow: WorkflowStarter;
  private readonly clock: () => Date;
  private readonly newJobId: () => string;
  private readonly openCluster?: (credentials: ClusterCredentials) => MilvusGateway;

  constructor(options: MigrationServiceOptions) {
    this.openCluster = options.openCluster;
    this.jobs = options.jobs;
    this.credentials = options.credentials;
    this.workflow = options.workflow;
    this.clock = options.clock ?? (() => new Date());
    this.newJobId = options.newJobId ?? (() => `mig-${timeSortableId(this.clock())}`);
  }

  /** Validates the request, keeps its credentials apart, records the job and starts its workflow. */
  async create(body: unknown, options: CreateOptions = {}): Promise<JobView> {
    return (await this.createOrReplay(body, options)).job;
  }

  /**
   * create, made idempotent by a key: the first request claims the key (before any credential is
   * saved); a repeat with the same body gets that job back, one with another body a ConflictError.
   */
  async createOrReplay(body: unknown, options: CreateOptions = {}): Promise<CreateOutcome> {
    const request = parseRequest(CreateMigrationBody, body, 'body');
    const key = options.idempotencyKey === undefined ? undefined : parseRequest(IdempotencyKey, options.idempotencyKey, 'Idempotency-Key');
    const jobId = this.newJobId();
    if (key === undefined) return { job: await this.createJob(jobId, request), replayed: false };

    const requestHash = hashRequest(request);
    const expiresAt = Math.floor(this.clock().getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS;
    try {
      await this.jobs.claimIdempotencyKey({ key, jobId, requestHash, expiresAt });
    } catch (error) {
      if (!(error instanceof IdempotencyKeyTakenError)) throw error;
      return { job: await this.replay(error.existing, requestHash), replayed: true };
    }
    try {
      return { job: await this.createJob(jobId, request), replayed: false };
    } catch (error) {
      // Nothing was created: give the key back so the client can retry with it.
      if (!(await this.jobs.get(jobId).catch(() => undefined))) {
        await this.jobs.releaseIdempotencyKey(key, jobId).catch((releaseError: unknown) => console.warn(`could not release Idempotency-Key: ${errorName(releaseError)}`));
      }
      throw error;
    }
  }

  private async replay(existing: IdempotencyRecord, requestHash: string): Promise<JobView> {
    if (existing.requestHash !== requestHash) {
      throw new ConflictError(
        `Idempotency-Key ${existing.key} was already used with a different request body (job ${existing.jobId}); use a new key for a new request`,
      );
    }
    const job = await this.jobs.get(existing.jobId);
    if (!job) throw new ConflictError(`a request with Idempotency-Key ${existing.key} is still being processed; retry in a moment`);
    return this.view(job);
  }

  private async createJob(jobId: string, request: CreateMigrationBody): Promise<JobView> {
    const refs: string[] = [];
    let job: JobRecord;
    try {
      const sourceRef = await this.credentials.save(jobId, 'source', request.source);
      refs.push(sourceRef);
      const targetRef = await this.credentials.save(jobId, 'target', request.target);
      refs.push(targetRef);
      const now = this.now();
      job = await this.jobs.create(
        {
          schemaVersion: JOB_SCHEMA_VERSION,
          jobId,
          type: request.type,
          status: 'PENDING',
          phase: 'QUEUED',
          source: { uri: redactUri(request.source.uri), credentialsRef: sourceRef, credentials: credentialsKind(request.source) },
          target: { uri: redactUri(request.target.uri), credentialsRef: targetRef, credentials: credentialsKind(request.target) },
          databases: request.databases,
          options: request.options,
          warnings: [],
          createdAt: now,
          updatedAt: now,
          version: 0,
        },
        { lockTargets: true },
      );
    } catch (error) {
      await this.releaseQuietly(refs);
      throw error;
    }
    await this.jobs.appendEvent(jobId, {
      type: 'JobCreated',
      message: `${job.type} migration from ${job.source.uri} to ${job.target.uri} created`,
      details: { type: job.type, source: job.source.uri, target: job.target.uri, databases: job.databases.map((d) => d.name) },
    });

    let executionArn: string;
    try {
      ({ executionArn } = await this.workflow.start(jobId));
    } catch (error) {
      return this.view(await this.failStart(job, error));
    }
    return this.view(await this.jobs.update(jobId, { executionArn, executions: [{ run: 1, executionArn, startedAt: job.createdAt }] }));
  }

  /**
   * `POST /migrations/{id}/resume`: continues a FAILED job from its checkpoints in a new execution.
   * Its credentials were deleted when it failed, so they are saved again (given in the body, or the
   * uri alone when the job had none; a user's own secretArn was kept); its target locks are taken
   * again with the status change, in one transaction. Copied shards are not copied again, a partly
   * copied one continues from its checkpoint, and the target collections it created are its own.
   */
  async resume(jobId: unknown, body: unknown): Promise<JobView> {
    const job = await this.requireJob(jobId);
    const request = parseRequest(ResumeMigrationBody, body ?? {}, 'body');
    if (job.status !== 'FAILED' || job.sync?.switchedAt) throw new ConflictError(resumeRefusal(job));
    const connections = resumeConnections(job, request);
    const executions = executionsOf(job);
    const run = executions.length + 1;
    const saved: string[] = [];
    let reopened: JobRecord;
    const collections = await this.jobs.allCollections(job.jobId);
    const kept = collections.filter((c) => KEPT_COLLECTION.includes(c.status));
    const rowsKept = kept.reduce((sum, c) => sum + c.rowsCopied, 0);
    const now = this.now();
    try {
      const refs = {} as Record<'source' | 'target', JobRecord['source']>;
      for (const role of ['source', 'target'] as const) {
        const connection = connections[role];
        if (!connection) {
          refs[role] = job[role]; // the user's own secret: still there
          continue;
        }
        const credentialsRef = await this.credentials.save(job.jobId, role, connection, { run });
        saved.push(credentialsRef);
        refs[role] = { uri: job[role].uri, credentialsRef, credentials: credentialsKind(connection) };
      }
      const last = executions[executions.length - 1];
      const ended = last ? [...executions.slice(0, -1), { ...last, endedAt: job.endedAt, status: job.status, ...(job.error ? { error: job.error } : {}) }] : [];
      reopened = await this.jobs.reopen(
        job.jobId,
        { status: 'PENDING', phase: 'QUEUED', source: refs.source, target: refs.target, executions: [...ended, { run, startedAt: now, rowsKept }] },
        ['FAILED'],
      );
    } catch (error) {
      // A resume that lost a race to another one may share its references: those the winner names stay.
      const current = await this.jobs.get(job.jobId).catch(() => undefined);
      const named = current && current.status !== 'FAILED' ? [current.source.credentialsRef, current.target.credentialsRef] : [];
      await this.releaseQuietly(saved.filter((ref) => !named.includes(ref)));
      throw error;
    }
    await this.jobs.appendEvent(job.jobId, {
      type: 'JobResumed',
      message:
        `resumed (run ${run}) after ${job.error?.code ?? 'a failure'}: ${rowsKept} row(s) copied before are kept, ` +
        `${kept.length} of ${collections.length} collection(s) continue from their checkpoints`,
      // Counts, not names: a job may hold thousands of collections.
      details: { run, rowsKept, collectionsKept: kept.length, ...(job.error ? { previousError: job.error.code } : {}) },
      at: now,
    });

    let executionArn: string;
    try {
      ({ executionArn } = await this.workflow.start(job.jobId, { run }));
    } catch (error) {
      return this.view(await this.failStart(reopened, error));
    }
    const started = (reopened.executions ?? []).map((e) => (e.run === run ? { ...e, executionArn } : e));
    return this.view(await this.jobs.update(job.jobId, { executionArn, executions: started }));
  }

  /**
   * `POST /migrations/preflight`: the body of `POST /migrations`, checked as Preflight would check
   * it, without creating a job, saving credentials or writing to either cluster. Always 200 for a
   * valid body: an unreachable cluster is `reachable: false` with the reason, and `ok: false`.
   */
  async preflight(body: unknown): Promise<PreflightReport> {
    const request = parseRequest(CreateMigrationBody, body, 'body');
    const [source, target] = await Promise.all([this.connectionCredentials('source', request.source), this.connectionCredentials('target', request.target)]);
    // Loaded here, not at the top: only preflight needs the Milvus SDK, and evaluating it (gRPC,
    // protobufjs, the proto definitions) on every cold start of the API cost more than the rest of
    // the function's init (bench/coldStart.ts). A bundle inlines both modules; they run on first use.
    const [{ inspectMigration, PREFLIGHT_TIMEOUT_MS }, { openCluster }] = await Promise.all([import('../migration/inspect'), import('../milvus')]);
    const open = this.openCluster ?? ((c: ClusterCredentials) => openCluster(c, { timeoutMs: PREFLIGHT_TIMEOUT_MS }));
    return inspectMigration({ databases: request.databases, options: request.options }, { source, target }, open);
  }

  /**
   * Inline credentials as they are. A secretArn is refused: the API never reads secrets (its role
   * may only create and delete them); the job's steps do.
   */
  private async connectionCredentials(role: 'source' | 'target', connection: ClusterConnection): Promise<ClusterCredentials> {
    if (connection.secretArn) {
      throw new ValidationError([{ path: `${role}.secretArn`, message: 'preflight takes inline credentials (token, or username and password): the API does not read secrets' }]);
    }
    return credentialsOf(connection);
  }

  async list(query: unknown = {}): Promise<JobPage> {
    const { limit, nextToken } = parseRequest(ListMigrationsQuery, query ?? {}, 'query');
    const page = await this.jobs.list({ limit, nextToken });
    const items = await Promise.all(page.items.map((job) => this.view(job)));
    return { items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  async get(jobId: unknown): Promise<JobView> {
    return this.view(await this.requireJob(jobId));
  }

  /** `GET /migrations/{id}/collections`: a page of the job's collections in key order. */
  async collections(jobId: unknown, query: unknown = {}): Promise<CollectionPage> {
    const job = await this.requireJob(jobId);
    const { limit, nextToken } = parseRequest(ListCollectionsQuery, query ?? {}, 'query');
    const page = await this.jobs.listCollections(job.jobId, { limit, nextToken });
    return { items: page.items.map(toCollectionView), ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  /** The job's view, with what its collections add up to (read from their items). */
  private async view(job: JobRecord): Promise<JobView> {
    return toJobView(job, await this.jobs.summarizeCollections(job.jobId), this.clock());
  }

  async events(jobId: unknown, query: unknown = {}): Promise<EventPage> {
    const job = await this.requireJob(jobId);
    const { limit, nextToken } = parseRequest(ListEventsQuery, query ?? {}, 'query');
    const page = await this.jobs.listEvents(job.jobId, { limit, nextToken });
    return { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  /** Marks a job that has not ended CANCELLED, stops its execution and forgets its credentials. */
  async cancel(jobId: unknown): Promise<JobView> {
    const job = await this.requireJob(jobId);
    if (isTerminal(job.status)) throw new ConflictError(`job ${job.jobId} is ${job.status}; only a job that has not ended can be cancelled`);
    const now = this.now();
    const cancelled = await this.jobs.update(job.jobId, { status: 'CANCELLED', endedAt: now }, NON_TERMINAL);
    await this.jobs.appendEvent(job.jobId, { type: 'JobCancelled', message: `cancelled in phase ${cancelled.phase}`, at: now });
    if (cancelled.executionArn) {
      try {
        await this.workflow.stop(cancelled.executionArn, `job ${job.jobId} cancelled through the API`);
      } catch (error) {
        // The job is CANCELLED either way: every step checks that before acting.
        await this.jobs.appendEvent(job.jobId, {
          type: 'ExecutionStopFailed',
          message: `the execution could not be stopped (${errorName(error)}); its next step will see the job is cancelled and end it`,
        });
      }
    }
    await this.releaseQuietly([cancelled.source.credentialsRef, cancelled.target.credentialsRef]);
    await this.releaseLocksQuietly(job.jobId);
    return this.view(cancelled);
  }

  /**
   * `POST /migrations/{id}/stop-sync`: the operator's confirmation that writes to the source have
   * stopped. The job becomes CUTTING_OVER; its sync loop sees it, drains the last changes, verifies
   * and finishes. Only an online job that is SYNCING can be stopped this way.
   */
  async stopSync(jobId: unknown, body: unknown): Promise<JobView> {
    const job = await this.requireJob(jobId);
    parseRequest(StopSyncBody, body ?? {}, 'body');
    if (job.type !== 'online') throw new ConflictError(`job ${job.jobId} is an offline migration; only an online migration syncs`);
    if (job.status !== 'SYNCING') {
      throw new ConflictError(
        `job ${job.jobId} is ${job.status} (phase ${job.phase}); stop-sync is accepted once the job is SYNCING` +
          (job.status === 'IN_PROGRESS' || job.status === 'PENDING' ? ': wait for the full copy to finish' : ''),
      );
    }
    const now = this.now();
    const stopped = await this.jobs.update(job.jobId, { status: 'CUTTING_OVER', phase: 'CUTOVER', writesStoppedAt: now }, ['SYNCING']);
    await this.jobs.appendEvent(job.jobId, {
      type: 'WritesStopConfirmed',
      message: 'the operator confirmed that writes to the source stopped: draining the last changes, then cutover and verification',
      at: now,
    });
    return this.view(stopped);
  }

  private async requireJob(jobId: unknown): Promise<JobRecord> {
    const id = parseRequest(JobIdParameter, jobId, 'id');
    const job = await this.jobs.get(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  private async failStart(job: JobRecord, cause: unknown): Promise<JobRecord> {
    const error: JobError = {
      code: 'WORKFLOW_START_FAILED',
      reason: `the state machine execution could not be started (${errorName(cause)})`,
    };
    let failed: JobRecord;
    try {
      failed = await this.jobs.update(job.jobId, { status: 'FAILED', phase: 'DONE', error, endedAt: this.now() }, ['PENDING']);
    } catch (updateError) {
      if (!(updateError instanceof ConflictError)) throw updateError;
      return (await this.jobs.get(job.jobId)) ?? job; // cancelled meanwhile: that answer stands
    }
    await this.jobs.appendEvent(job.jobId, { type: 'JobFailed', message: error.reason, details: { code: error.code } });
    await this.releaseQuietly([job.source.credentialsRef, job.target.credentialsRef]);
    await this.releaseLocksQuietly(job.jobId);
    return failed;
  }

  private async releaseQuietly(refs: string[]): Promise<void> {
    for (const ref of refs) {
      try {
        await this.credentials.release(ref);
      } catch (error) {
        console.warn(`could not release credentials ${ref}: ${errorName(error)}`);
      }
    }
  }

  /** A lock left behind is taken over once its job has ended, so a failure here only logs. */
  private async releaseLocksQuietly(jobId: string): Promise<void> {
    try {
      await this.jobs.releaseTargetLocks(jobId);
    } catch (error) {
      console.warn(`could not release the target locks of job ${jobId}: ${errorName(error)}`);
    }
  }

  private now(): string {
    return this.clock().toISOString();
  }
}

/**
 * The connections a resumed job saves, checked together before anything is saved: the credentials
 * given again, else the uri alone when the job had none; none when the job used the user's own
 * secret (never deleted). Inline credentials were deleted at the job's end: without them, a 400
 * names each cluster that needs them.
 */
function resumeConnections(job: JobRecord, request: ResumeMigrationBody): Record<'source' | 'target', ClusterConnection | undefined> {
  const issues: FieldIssue[] = [];
  const connection = (role: 'source' | 'target'): ClusterConnection | undefined => {
    const given = request[role];
    try {
      if (given) return parseRequest(ClusterConnection, { ...given, uri: job[role].uri }, role);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
      return undefined;
    }
    const kind = job[role].credentials;
    if (kind === 'secret') return undefined;
    if (kind === 'none') return { uri: job[role].uri };
    issues.push({
      path: role,
      message: `the job's ${role} credentials were deleted when it failed: give them again (${role}.token, or ${role}.username and ${role}.password, or ${role}.secretArn; ${role}.tls for a private CA)`,
    });
    return undefined;
  };
  const connections = { source: connection('source'), target: connection('target') };
  if (issues.length > 0) throw new ValidationError(issues);
  return connections;
}

/** What kind of credentials a connection carries (recorded on the job, never the credentials). */
function credentialsKind(connection: ClusterConnection): NonNullable<JobRecord['source']['credentials']> {
  if (connection.secretArn) return 'secret';
  if (connection.token || connection.username || connection.password || connection.tls || redactUri(connection.uri) !== connection.uri) return 'inline';
  return 'none';
}

/** The job's executions, with the first one made up from the job for a job recorded before executions were. */
function executionsOf(job: JobRecord): JobExecution[] {
  if (job.executions && job.executions.length > 0) return job.executions;
  return [{ run: 1, ...(job.executionArn ? { executionArn: job.executionArn } : {}), startedAt: job.createdAt }];
}

/** Why a job that is not FAILED cannot be resumed. */
function resumeRefusal(job: JobRecord): string {
  const only = `only a FAILED job can be resumed`;
  if (job.status === 'SUCCESSFUL') return `job ${job.jobId} is SUCCESSFUL; ${only}: it has nothing left to do`;
  if (job.status === 'CANCELLED') return `job ${job.jobId} is CANCELLED; ${only}: a cancelled job stays cancelled, create a new job instead`;
  if (job.sync?.switchedAt) {
    // A resume starts over from the copy and the sync, which would write the source's rows over the applications' writes since the switch.
    return `job ${job.jobId} failed after its switchover (${job.sync.switchedAt}): its capture endpoints send every call to the target, and a resume would copy the source over the applications' writes since; compare the collections its error names instead`;
  }
  return `job ${job.jobId} is ${job.status} (phase ${job.phase}); ${only}: this one has not ended`;
}

/** Fields of a cluster that are secrets: a hash stored in the table must not let anyone test guesses of them. */
const SECRET_FIELDS = new Set(['token', 'password', 'tls']);

/**
 * SHA-256 of the validated request with its keys sorted and its secrets left out: what an
 * idempotency key item keeps of the body. Two requests that differ only in credentials count as
 * the same request.
 */
export function hashRequest(request: unknown): string {
  return createHash('sha256').update(canonicalJson(withoutSecrets(request))).digest('base64url');
}

function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !SECRET_FIELDS.has(k)).map(([k, v]) => [k, withoutSecrets(v)]));
  }
  return value;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The public view of a job: cluster uris (already redacted) but no credentialsRef, no execution internals. */
export function toJobView(job: JobRecord, collections: CollectionsSummary, now: Date = new Date()): JobView {
  const online =
    job.type === 'online'
      ? {
          syncLagSeconds: syncLagSeconds(job, now),
          ...(job.sync ? { sync: toSyncView(job.sync) } : {}),
          ...(job.writesStoppedAt ? { writesStoppedAt: job.writesStoppedAt } : {}),
          ...(job.status === 'SUCCESSFUL' && job.writesStoppedAt && job.endedAt
            ? { cutoverSeconds: Math.round((Date.parse(job.endedAt) - Date.parse(job.writesStoppedAt)) / 100) / 10 }
            : {}),
        }
      : {};
  return {
    jobId: job.jobId,
    type: job.type,
    status: job.status,
    options: job.options,
    phase: job.phase,
    progressPercent: jobProgressPercent(job, collections),
    source: { uri: redactUri(job.source.uri) },
    target: { uri: redactUri(job.target.uri) },
    collectionSummary: collections,
    warnings: [...job.warnings],
    ...(job.error ? { error: job.error } : {}),
    ...(job.verification ? { verification: job.verification } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.endedAt ? { endedAt: job.endedAt } : {}),
    ...((job.executions?.length ?? 0) > 1 ? { executions: (job.executions ?? []).map(toExecutionView) } : {}),
    ...online,
  };
}

/** The sync as the API shows it: its digest epoch is internal. */
function toSyncView({ digestEpoch: _internal, ...sync }: NonNullable<JobRecord['sync']>): SyncView {
  return sync;
}

function toExecutionView({ executionArn: _internal, ...execution }: JobExecution): ExecutionView {
  return execution;
}

function toCollectionView(c: CollectionProgress): CollectionView {
  // The source's duplicate keys are counted in rowsTotal but copied once.
  const distinct = c.rowsTotal - (c.duplicateKeys ?? 0);
  const percent = distinct > 0 ? Math.min(100, Math.floor((c.rowsCopied * 1000) / distinct) / 10) : DONE_COLLECTION.includes(c.status) ? 100 : 0;
  const { key, sourceDb, sourceName, targetDb, targetName, status, rowsTotal, rowsCopied, duplicateKeys, duplicateExamples } = c;
  return { key, sourceDb, sourceName, targetDb, targetName, status, rowsTotal, rowsCopied, ...(duplicateKeys ? { duplicateKeys, duplicateExamples: duplicateExamples ?? [] } : {}), percent };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** A ULID in lower case: 10 characters of milliseconds, then 16 random ones; sorts by creation time. */
export function timeSortableId(at: Date = new Date()): string {
  let time = at.getTime();
  let text = '';
  for (let i = 0; i < 10; i += 1) {
    text = CROCKFORD[time % 32] + text;
    time = Math.floor(time / 32);
  }
  const random = randomBytes(16);
  for (let i = 0; i < 16; i += 1) text += CROCKFORD[random[i] % 32];
  return text;
}
