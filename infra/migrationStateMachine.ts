import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  QueryLanguage,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { COPY_BATCHES_AT_ONCE } from '../lib/copyBatches';
import { RETRYABLE_ERROR_NAMES } from '../lib/errors';
import type { StepId } from '../lib/workflow/steps';

/** Errors of the Lambda service itself (throttling, a failed invoke), retried on every Task. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** A CopyShard, SyncChanges, DrainChanges or VerifySync invocation killed by a timeout resumes from its checkpoint (or next cycle), so it is retried too. */
const STEP_TIMEOUT_ERRORS = ['States.Timeout', 'Sandbox.Timedout'] as const;
const RETRY_ON_TIMEOUT = { errors: [...STEP_TIMEOUT_ERRORS], interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 3, jitterStrategy: JitterType.FULL };

export interface MigrationStateMachineProps {
  /** The Lambda function of every step, by step id. */
  readonly steps: Record<StepId, IFunction>;
  /** Task timeout of each step; give each a margin over its Lambda timeout so a Lambda timeout surfaces as Sandbox.Timedout. */
  readonly taskTimeouts: Record<StepId, Duration>;
  /** Child executions (copy batches) of each Distributed Map run at once. @default COPY_BATCHES_AT_ONCE (4), which PlanShards cuts batches for */
  readonly collectionConcurrency?: number;
  /** Shards of one collection copied at once. @default 4 */
}

/**
 * Both migrations, read top to bottom as in the console graph (docs/design.md, docs/state-machine.md):
 *
 *  1. Preflight               checks both clusters and the job ($.preflight, with the job's type)
 *  2. PlanShards              splits every collection into primary key ranges and cuts the work
 *                             into copy batches ($.plan.batches: their numbers only)
 *  3. The copy: three Distributed Maps over $.plan.batches, a child execution per batch, each
 *     loading its batch ($.items) first; a stage ends before the next starts:
 *     3a. CreateCollections   CreateBatchCollections: CreateTargetCollection, each collection it owns
 *     3b. CopyCollections     CopyShards: CopyShard ($.copy) <-> ShardDone? until done -> ShardCopied
 *     3c. IndexCollections    IndexBatchCollections: BuildIndexes, each collection it owns
 *     A child's failure is recorded by the child (Record<Stage>BatchFailure) and fails the Map.
 *  4. CopyAccessControl       users, roles, grants (options.includeRbac)
 *  5. MigrationType?          offline -> 6, online -> 7
 *  6. Offline: Verify -> VerificationOutcome: RECOPY -> back to 2 (mismatched collections only),
 *                                             PASSED -> Finalize -> MigrationSucceeded
 *  7. Online:  StartSync -> SyncChanges ($.sync, runs cycles for up to ~13 minutes)
 *              -> SyncState?: SYNCING -> WaitForNextSync ($.sync.waitSeconds) -> SyncChanges
 *                             WRITES_STOPPED (stop-sync confirmed) -> DrainChanges ($.drain) <-> Drained?
 *                             -> VerifySync ($.verification) <-> Verified? -> Finalize
 *              (each compares every row, checkpointed per shard, and is called again until done)
 *              (capture with switchover: DrainChanges ends by switching the capture endpoints to
 *              the target, and VerifySync compares while applications write there)
 *     The sync deadline (7 days by default) and schema changes on the source are failures of
 *     SyncChanges. One loop turn is 9 history events and at least ~13 minutes on AWS: 7 days
 *     take about 7,000 of the 25,000 events an execution may have.
 *  Any failure of a Task or a Map (caught at the top level; inline Map bodies propagate to the
 *  child execution's catch) puts the error at $.error -> RecordFailure -> MigrationFailed.
 *
 * Payloads are JSONPath (aws-local-stepfunctions mishandles JSONata) and carry ids only; the
 * job's state lives in DynamoDB. No execution's history or payload grows with the job's
 * collections or shards (test/infra/executionLimits.test.ts); the Distributed Maps take their
 * items from the state (ItemsPath, no ItemReader) so the local runtime runs them, inline.
 */
export class MigrationStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: MigrationStateMachineProps) {
    super(scope, id);
    const task = (name: string, stepId: StepId, payload: Record<string, unknown>, resultPath: string | null) =>
      this.lambdaTask(name, props.steps[stepId], props.taskTimeouts[stepId], payload, resultPath);
    const jobId = JsonPath.stringAt('$.jobId');
    const job = { jobId };

    // Any failure: record it on the job, then fail the execution with the original error.
    const recordFailure = task('RecordFailure', 'recordFailure', { jobId, error: JsonPath.objectAt('$.error') }, '$.failureRecorded');
    const migrationFailed = new Fail(this, 'MigrationFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    recordFailure.next(migrationFailed);
    const onFailure = { resultPath: '$.error' };

    // 1. Preflight
    const preflight = task('Preflight', 'preflight', job, '$.preflight');

    // 2. PlanShards
    const planShards = task('PlanShards', 'planShards', job, '$.plan');

    // 3. The copy, in three Distributed Maps over the copy batches PlanShards stored ($.plan.batches,
    //    lib/copyBatches.ts): each batch is a child execution with a history of its own, bounded by
    //    the batch's size, so no execution grows with the job's collections or shards.
    //    A collection split over several batches is created by the batch that owns it before any
    //    shard is copied (3a), and indexed after all its shards are (3c): each stage ends before the next.
    const collectionItem = { jobId, collectionKey: JsonPath.stringAt('$$.Map.Item.Value') };
    const collectionPayload = { jobId, collectionKey: JsonPath.stringAt('$.collectionKey') };

    // 3a. CreateCollections: each child creates the collections its batch owns.
    const createCollections = this.overBatches('CreateCollections', 'Create', task, new MapState(this, 'CreateBatchCollections', {
      itemsPath: '$.items.collections',
      itemSelector: collectionItem,
      // With the Distributed Map's MaxConcurrency: as many collections at once as before the fan-out.
      maxConcurrency: 1,
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(task('CreateTargetCollection', 'createTargetCollection', collectionPayload, '$.created')), props.collectionConcurrency);

    // 3b. CopyCollections: each child copies its batch's shards, CopyShard <-> ShardDone? until each
    //     shard is done (a shard is copied in invocations that each stop at a time budget).
    const copyShard = task(
      'CopyShard',
      'copyShard',
      { jobId, collectionKey: JsonPath.stringAt('$.collectionKey'), shardIndex: JsonPath.numberAt('$.shardIndex') },
      '$.copy',
    );
    copyShard.addRetry(RETRY_ON_TIMEOUT);
    const shardDone = new Choice(this, 'ShardDone?')
      .when(Condition.booleanEquals('$.copy.done', true), new Succeed(this, 'ShardCopied'))
      .otherwise(copyShard);
    const copyCollections = this.overBatches('CopyCollections', 'Copy', task, new MapState(this, 'CopyShards', {
      itemsPath: '$.items.shards',
      itemSelector: {
        jobId,
        collectionKey: JsonPath.stringAt('$$.Map.Item.Value.collectionKey'),
        shardIndex: JsonPath.numberAt('$$.Map.Item.Value.shardIndex'),
      },
      // Per job (options.shardConcurrency), carried from PlanShards' output.
      maxConcurrencyPath: '$.shardConcurrency',
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(copyShard.next(shardDone)), props.collectionConcurrency);

    // 3c. IndexCollections: each child waits for the indexes of the collections its batch owns.
    const indexCollections = this.overBatches('IndexCollections', 'Index', task, new MapState(this, 'IndexBatchCollections', {
      itemsPath: '$.items.collections',
      itemSelector: collectionItem,
      maxConcurrency: 1,
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(task('BuildIndexes', 'buildIndexes', collectionPayload, '$.indexes')), props.collectionConcurrency);

    // 4. CopyAccessControl
    const copyAccessControl = task('CopyAccessControl', 'copyAccessControl', job, '$.accessControl');

    const finalize = task('Finalize', 'finalize', job, '$.finalized');
    finalize.next(new Succeed(this, 'MigrationSucceeded'));

    // 6. Offline: Verify, then re-copy the mismatched collections or finish.
    const verify = task('Verify', 'verify', job, '$.verification');
    const verificationOutcome = new Choice(this, 'VerificationOutcome')
      .when(Condition.stringEquals('$.verification.outcome', 'RECOPY'), planShards)
      .when(Condition.stringEquals('$.verification.outcome', 'PASSED'), finalize)
      // Verify answers PASSED or RECOPY only; anything else is a bug, recorded like any failure.
      .otherwise(this.unexpected('UnknownVerificationOutcome', 'Verify answered {}', '$.verification', recordFailure));
    verify.next(verificationOutcome);

    // 7. Online: sync until writes are confirmed stopped, then drain, verify, finish.
    const startSync = task('StartSync', 'startSync', job, '$.syncStarted');
    const syncChanges = task('SyncChanges', 'syncChanges', job, '$.sync');
    // A SyncChanges killed by its timeout lost nothing: the next one starts a new cycle.
    syncChanges.addRetry(RETRY_ON_TIMEOUT);
    const waitForNextSync = new Wait(this, 'WaitForNextSync', { time: WaitTime.secondsPath('$.sync.waitSeconds') });
    const drainChanges = task('DrainChanges', 'drainChanges', job, '$.drain');
    const verifySync = task('VerifySync', 'verifySync', job, '$.verification');
    // Both compare every row, checkpointed per shard: one killed by its timeout goes on from there.
    drainChanges.addRetry(RETRY_ON_TIMEOUT);
    verifySync.addRetry(RETRY_ON_TIMEOUT);
    // A comparison longer than one invocation: the step is called again until it says done.
    const drained = new Choice(this, 'Drained?')
      .when(Condition.booleanEquals('$.drain.done', true), verifySync)
      .when(Condition.booleanEquals('$.drain.done', false), drainChanges)
      .otherwise(this.unexpected('UnknownDrainState', 'DrainChanges answered {}', '$.drain', recordFailure));
    const verified = new Choice(this, 'Verified?')
      .when(Condition.booleanEquals('$.verification.done', true), finalize)
      .when(Condition.booleanEquals('$.verification.done', false), verifySync)
      .otherwise(this.unexpected('UnknownVerificationState', 'VerifySync answered {}', '$.verification', recordFailure));
    drainChanges.next(drained);
    verifySync.next(verified);
    const syncState = new Choice(this, 'SyncState?')
      .when(Condition.stringEquals('$.sync.state', 'WRITES_STOPPED'), drainChanges)
      .when(Condition.stringEquals('$.sync.state', 'SYNCING'), waitForNextSync.next(syncChanges))
      .otherwise(this.unexpected('UnknownSyncState', 'SyncChanges answered {}', '$.sync', recordFailure));
    startSync.next(syncChanges).next(syncState);

    // 5. MigrationType?
    const migrationType = new Choice(this, 'MigrationType?')
      .when(Condition.stringEquals('$.preflight.type', 'online'), startSync)
      .when(Condition.stringEquals('$.preflight.type', 'offline'), verify)
      .otherwise(this.unexpected('UnknownMigrationType', 'Preflight answered {}', '$.preflight', recordFailure));

    for (const state of [preflight, planShards, createCollections, copyCollections, indexCollections, copyAccessControl, verify, finalize, startSync, syncChanges, drainChanges, verifySync]) {
      state.addCatch(recordFailure, onFailure);
    }

    const definition = preflight.next(planShards).next(createCollections).next(copyCollections).next(indexCollections).next(copyAccessControl).next(migrationType);

    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new StateMachine(this, 'Resource', {
      definitionBody: DefinitionBody.fromChainable(definition),
      queryLanguage: QueryLanguage.JSON_PATH,
      stateMachineType: StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
      comment: 'Milvus migration: preflight, plan, copy, index; offline: verify, finalize; online: sync until writes stop, drain, verify, finalize',
    });
  }

  /**
   * A Distributed Map over $.plan.batches whose child executions (STANDARD, each with a history
   * of its own) run Load<label>Batch ($.items: the batch's collections and shards) and then `body`.
   * A child records its own failure on the job first: on AWS the parent sees only
   * States.ExceedToleratedFailureThreshold, not the child's error (RecordFailure keeps the first).
   * Each child ends with an empty output, so the results the Map gathers stay ~3 bytes a batch.
   */
  private overBatches(name: string, label: string, task: (name: string, stepId: StepId, payload: Record<string, unknown>, resultPath: string | null) => LambdaInvoke, body: MapState, concurrency = COPY_BATCHES_AT_ONCE): DistributedMap {
    const jobId = JsonPath.stringAt('$.jobId');
    const load = task(`Load${label}Batch`, 'loadCopyBatch', { jobId, batch: JsonPath.numberAt('$.batch') }, '$.items');
    const recordChildFailure = task(`Record${label}BatchFailure`, 'recordFailure', { jobId, error: JsonPath.objectAt('$.error') }, '$.failureRecorded');
    recordChildFailure.next(new Fail(this, `${label}BatchFailed`, { errorPath: '$.error.Error', causePath: '$.error.Cause' }));
    for (const state of [load, body]) state.addCatch(recordChildFailure, { resultPath: '$.error' });
    const done = new Pass(this, `${label}BatchDone`, { parameters: {} });
    return new DistributedMap(this, name, {
      itemsPath: '$.plan.batches',
      itemSelector: {
        jobId,
        batch: JsonPath.numberAt('$$.Map.Item.Value'),
        shardConcurrency: JsonPath.numberAt('$.plan.shardConcurrency'),
      },
      maxConcurrency: concurrency,
      mapExecutionType: StateMachineType.STANDARD,
      label,
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(load.next(body).next(done));
  }

  /** A step answered something the graph has no branch for: a bug, recorded like any failure. */
  private unexpected(name: string, cause: string, path: string, recordFailure: LambdaInvoke): Pass {
    const pass = new Pass(this, name, {
      parameters: { Error: name, Cause: JsonPath.format(cause, JsonPath.jsonToString(JsonPath.objectAt(path))) },
      resultPath: '$.error',
    });
    pass.next(recordFailure);
    return pass;
  }

  /**
   * A Lambda Task whose output is the handler's return value, stored under a namespaced ResultPath
   * (or discarded), retried on retryable domain errors and Lambda service errors, with an explicit
   * timeout (aws-local-stepfunctions times out a Task without one after 60 s).
   */
  private lambdaTask(name: string, fn: IFunction, timeout: Duration, payload: Record<string, unknown>, resultPath: string | null): LambdaInvoke {
    const state = new LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: TaskInput.fromObject(payload),
      resultPath: resultPath ?? JsonPath.DISCARD,
      taskTimeout: Timeout.duration(timeout),
    });
    state.addRetry({
      errors: [...RETRYABLE_ERROR_NAMES, ...LAMBDA_SERVICE_ERRORS],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
      jitterStrategy: JitterType.FULL,
    });
    return state;
  }
}
