import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
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
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETRYABLE_ERROR_NAMES } from '../lib/errors';
import type { StepId } from '../lib/workflow/steps';

/** Errors of the Lambda service itself (throttling, a failed invoke), retried on every Task. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** A CopyShard invocation killed by a timeout resumes from its checkpoint, so it is retried too. */
export const COPY_SHARD_TIMEOUT_ERRORS = ['States.Timeout', 'Sandbox.Timedout'] as const;

export interface OfflineMigrationStateMachineProps {
  /** The Lambda function of every step, by step id. */
  readonly steps: Record<StepId, IFunction>;
  /** Task timeout of each step; give each a margin over its Lambda timeout so a Lambda timeout surfaces as Sandbox.Timedout. */
  readonly taskTimeouts: Record<StepId, Duration>;
  /** Collections copied at once. @default 4 */
  readonly collectionConcurrency?: number;
  /** Shards of one collection copied at once. @default 4 */
}

/**
 * The offline migration, read top to bottom as in the console graph (docs/design.md):
 *
 *  1. Preflight               checks both clusters and the job ($.preflight)
 *  2. PlanShards              splits every collection into primary key ranges ($.plan)
 *  3. CopyCollections         Map over $.plan.collections, each:
 *     3a. CreateTargetCollection
 *     3b. CopyShards          Map over the collection's shards, each:
 *           CopyShard ($.copy) <-> ShardDone? until the shard is done -> ShardCopied
 *     3c. BuildIndexes
 *  4. Verify                  compares source and target ($.verification)
 *  5. VerificationOutcome     RECOPY -> back to 2 (the planner replans mismatched collections only)
 *                             PASSED -> Finalize -> MigrationSucceeded
 *  Any failure of a Task or a Map (caught at the top level, Map bodies propagate) puts the error
 *  at $.error -> RecordFailure -> MigrationFailed.
 *
 * Payloads are JSONPath (aws-local-stepfunctions mishandles JSONata) and carry ids only; the
 * job's state lives in DynamoDB.
 */
export class OfflineMigrationStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: OfflineMigrationStateMachineProps) {
    super(scope, id);
    const task = (name: string, stepId: StepId, payload: Record<string, unknown>, resultPath: string | null) =>
      this.lambdaTask(name, props.steps[stepId], props.taskTimeouts[stepId], payload, resultPath);
    const jobId = JsonPath.stringAt('$.jobId');

    // Any failure: record it on the job, then fail the execution with the original error.
    const recordFailure = task('RecordFailure', 'recordFailure', { jobId, error: JsonPath.objectAt('$.error') }, '$.failureRecorded');
    const migrationFailed = new Fail(this, 'MigrationFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    recordFailure.next(migrationFailed);
    const onFailure = { resultPath: '$.error' };

    // 1. Preflight
    const preflight = task('Preflight', 'preflight', { jobId }, '$.preflight');

    // 2. PlanShards
    const planShards = task('PlanShards', 'planShards', { jobId }, '$.plan');

    // 3b. CopyShard <-> ShardDone? (a shard is copied in invocations that each stop at a time budget)
    const copyShard = task(
      'CopyShard',
      'copyShard',
      { jobId, collectionKey: JsonPath.stringAt('$.collectionKey'), shardIndex: JsonPath.numberAt('$.shardIndex') },
      '$.copy',
    );
    copyShard.addRetry({
      errors: [...COPY_SHARD_TIMEOUT_ERRORS],
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 3,
      jitterStrategy: JitterType.FULL,
    });
    const shardDone = new Choice(this, 'ShardDone?')
      .when(Condition.booleanEquals('$.copy.done', true), new Succeed(this, 'ShardCopied'))
      .otherwise(copyShard);
    const copyShards = new MapState(this, 'CopyShards', {
      itemsPath: '$.shards',
      itemSelector: {
        jobId,
        collectionKey: JsonPath.stringAt('$.collectionKey'),
        shardIndex: JsonPath.numberAt('$$.Map.Item.Value'),
      },
      // Per job (options.shardConcurrency), carried from PlanShards' output.
      maxConcurrencyPath: '$.shardConcurrency',
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(copyShard.next(shardDone));

    // 3. CopyCollections: 3a CreateTargetCollection -> 3b CopyShards -> 3c BuildIndexes
    const collectionPayload = { jobId, collectionKey: JsonPath.stringAt('$.collectionKey') };
    const copyCollections = new MapState(this, 'CopyCollections', {
      itemsPath: '$.plan.collections',
      itemSelector: {
        jobId,
        collectionKey: JsonPath.stringAt('$$.Map.Item.Value.collectionKey'),
        shards: JsonPath.listAt('$$.Map.Item.Value.shards'),
        shardConcurrency: JsonPath.numberAt('$.plan.shardConcurrency'),
      },
      maxConcurrency: props.collectionConcurrency ?? 4,
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(
      task('CreateTargetCollection', 'createTargetCollection', collectionPayload, '$.created')
        .next(copyShards)
        .next(task('BuildIndexes', 'buildIndexes', collectionPayload, '$.indexes')),
    );

    // 4. Verify
    const verify = task('Verify', 'verify', { jobId }, '$.verification');

    // 5. VerificationOutcome: re-copy the mismatched collections, or finish.
    const finalize = task('Finalize', 'finalize', { jobId }, '$.finalized');
    const verificationOutcome = new Choice(this, 'VerificationOutcome')
      .when(Condition.stringEquals('$.verification.outcome', 'RECOPY'), planShards)
      .when(Condition.stringEquals('$.verification.outcome', 'PASSED'), finalize.next(new Succeed(this, 'MigrationSucceeded')))
      // Verify answers PASSED or RECOPY only; anything else is a bug, recorded like any failure.
      .otherwise(
        new Pass(this, 'UnknownVerificationOutcome', {
          parameters: { Error: 'UnknownVerificationOutcome', Cause: JsonPath.format('Verify answered {}', JsonPath.jsonToString(JsonPath.objectAt('$.verification'))) },
          resultPath: '$.error',
        }).next(recordFailure),
      );

    for (const state of [preflight, planShards, copyCollections, verify, finalize]) state.addCatch(recordFailure, onFailure);

    const definition = preflight.next(planShards).next(copyCollections).next(verify).next(verificationOutcome);

    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new StateMachine(this, 'Resource', {
      definitionBody: DefinitionBody.fromChainable(definition),
      queryLanguage: QueryLanguage.JSON_PATH,
      stateMachineType: StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
      comment: 'Offline Milvus migration: preflight, plan, copy, index, verify, finalize',
    });
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
