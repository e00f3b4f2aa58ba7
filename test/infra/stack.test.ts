import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { App } from 'aws-cdk-lib';
import { AuthorizationType } from 'aws-cdk-lib/aws-apigateway';
import { beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_STACK_ID, MigrationStack } from '../../infra/migrationStack';
import { LAMBDA_SERVICE_ERRORS } from '../../infra/migrationStateMachine';
import { localFunctionArn, stateMachineDefinition, synthesizeTemplate, type CfnTemplate } from '../../infra/synth';
import { RETRYABLE_ERROR_NAMES } from '../../lib/errors';
import { STEP_IDS } from '../../lib/workflow/steps';
import { API_ROUTES } from '../../lib/api/requests';

let json: CfnTemplate;
let template: Template;
let definition: Record<string, any>;
beforeAll(() => {
  json = synthesizeTemplate();
  template = Template.fromJSON(json);
  definition = stateMachineDefinition(json).definition;
});

/** Every state of the definition by name, nested Map iterators included. */
function allStates(machine: Record<string, any>): Record<string, any> {
  const states: Record<string, any> = {};
  for (const [name, state] of Object.entries<any>(machine.States)) {
    states[name] = state;
    if (state.Type === 'Map') Object.assign(states, allStates(state.ItemProcessor ?? state.Iterator));
  }
  return states;
}

const functionsWithStepId = () =>
  Object.entries(json.Resources).filter(([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Environment?.Variables?.STEP_ID);

describe('MigrationStack', () => {
  it('runs every function on Node 22 with source maps enabled', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(STEP_IDS.length + 1);
    for (const [logicalId, fn] of Object.entries(functions)) {
      expect(fn.Properties.Runtime, logicalId).toBe('nodejs22.x');
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS, logicalId).toBe('--enable-source-maps');
      expect(fn.Properties.Environment.Variables.JOBS_TABLE, logicalId).toEqual({ Ref: expect.stringMatching(/^Jobs/) });
    }
  });

  it('has one function per step id, named by STEP_ID, with its timeout', () => {
    const stepIds = functionsWithStepId().map(([, fn]) => fn.Properties!.Environment.Variables.STEP_ID);
    expect(stepIds.sort()).toEqual([...STEP_IDS].sort());
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STEP_ID: 'copyShard' }) },
      Timeout: 900,
      MemorySize: 1024,
    });
    for (const [, fn] of functionsWithStepId()) {
      expect(fn.Properties!.Timeout).toBeGreaterThanOrEqual(60);
      expect(fn.Properties!.Timeout).toBeLessThanOrEqual(900);
    }
  });

  it('lets the steps read milvus-migrate secrets and the API manage them and the executions', () => {
    const secretArn = Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:milvus-migrate/\\*$')])] });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: secretArn })]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['secretsmanager:CreateSecret', 'secretsmanager:DeleteSecret']), Resource: secretArn }),
          Match.objectLike({ Action: 'states:StartExecution' }),
          Match.objectLike({ Action: ['states:StopExecution', 'states:DescribeExecution'] }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STATE_MACHINE_ARN: { Ref: Match.stringLikeRegexp('^Migration') } }) },
    });
  });

  it('keeps jobs in one on-demand, encrypted table with point-in-time recovery and the byCreatedAt index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byCreatedAt',
          KeySchema: [
            { AttributeName: 'entity', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('exposes the migration routes, each a proxy integration to the API function', () => {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const pathOf = (logicalId: string): string => {
      const resource = resources[logicalId];
      if (!resource) return '';
      const parent = resource.Properties.ParentId;
      return `${parent.Ref ? pathOf(parent.Ref) : ''}/${resource.Properties.PathPart}`;
    };
    const routes = Object.values(template.findResources('AWS::ApiGateway::Method')).map(
      (method) => `${method.Properties.HttpMethod} ${pathOf(method.Properties.ResourceId.Ref)}`,
    );
    // Every route the API function serves (lib/api/requests.ts), and no other.
    expect(routes.sort()).toEqual(API_ROUTES.map((route) => `${route.method} ${route.resource}`).sort());
    const [apiFunction] = Object.entries(json.Resources).find(
      ([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Environment?.Variables?.STATE_MACHINE_ARN,
    )!;
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(apiFunction);
    }
  });

  it('plugs other authorization into every API method through apiMethodOptions', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new MigrationStack(app, 'WithCustom', { apiMethodOptions: { authorizationType: AuthorizationType.NONE } });
    const methods = Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(API_ROUTES.length);
    for (const method of methods) expect(method.Properties.AuthorizationType).toBe('NONE');
  });

  it('outputs the API URL, the state machine ARN and the table name', () => {
    template.hasOutput('ApiUrl', {});
    template.hasOutput('StateMachineArn', { Value: { Ref: Match.stringLikeRegexp('^Migration') } });
    template.hasOutput('JobsTableName', { Value: { Ref: Match.stringLikeRegexp('^Jobs') } });
  });

  it('runs a STANDARD state machine with logging and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', Destinations: Match.anyValue() }),
    });
  });

  it('synthesizes without bundling, warning about handler files that do not exist', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Code.ZipFile).toContain('bundling skipped');
      expect(fn.Properties.Handler).toBe('index.handler');
    }
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new MigrationStack(app, MIGRATION_STACK_ID);
    const entries = ['functions/api.ts', ...STEP_IDS.map((stepId) => `functions/steps/${stepId}.ts`)];
    const missing = entries.filter((entry) => !existsSync(fileURLToPath(new URL(`../../${entry}`, import.meta.url))));
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('does not exist yet'));
    expect(warnings.map((warning) => String(warning.entry.data).split(' ')[0]).sort()).toEqual(missing.sort());
  });
});

describe('offline state machine definition', () => {
  const TASKS = [
    'Preflight',
    'PlanShards',
    'LoadCreateBatch',
    'LoadCopyBatch',
    'LoadIndexBatch',
    'CreateTargetCollection',
    'CopyShard',
    'BuildIndexes',
    'CopyAccessControl',
    'Verify',
    'Finalize',
    'RecordFailure',
    'StartSync',
    'SyncChanges',
    'DrainChanges',
    'VerifySync',
    'RecordCreateBatchFailure',
    'RecordCopyBatchFailure',
    'RecordIndexBatchFailure',
  ];

  it('names its states as in the design', () => {
    expect(Object.keys(allStates(definition)).sort()).toEqual(
      [
        ...TASKS,
        'CreateCollections',
        'CreateBatchCollections',
        'CreateBatchDone',
        'CreateBatchFailed',
        'CopyCollections',
        'CopyShards',
        'CopyBatchDone',
        'CopyBatchFailed',
        'IndexCollections',
        'IndexBatchCollections',
        'IndexBatchDone',
        'IndexBatchFailed',
        'ShardDone?',
        'ShardCopied',
        'VerificationOutcome',
        'MigrationSucceeded',
        'MigrationFailed',
        'UnknownVerificationOutcome',
        'MigrationType?',
        'UnknownMigrationType',
        'SyncState?',
        'WaitForNextSync',
        'UnknownSyncState',
        'Drained?',
        'UnknownDrainState',
        'Verified?',
        'UnknownVerificationState',
      ].sort(),
    );
    expect(definition.StartAt).toBe('Preflight');
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('calls each step function from its Task, with JSONPath payloads and results at namespaced paths', () => {
    const states = allStates(definition);
    const functions = stateMachineDefinition(json).functions;
    const expected: Record<string, [string, Record<string, string>, string | null]> = {
      Preflight: ['preflight', { 'jobId.$': '$.jobId' }, '$.preflight'],
      PlanShards: ['planShards', { 'jobId.$': '$.jobId' }, '$.plan'],
      LoadCreateBatch: ['loadCopyBatch', { 'jobId.$': '$.jobId', 'batch.$': '$.batch' }, '$.items'],
      LoadCopyBatch: ['loadCopyBatch', { 'jobId.$': '$.jobId', 'batch.$': '$.batch' }, '$.items'],
      LoadIndexBatch: ['loadCopyBatch', { 'jobId.$': '$.jobId', 'batch.$': '$.batch' }, '$.items'],
      CreateTargetCollection: ['createTargetCollection', { 'jobId.$': '$.jobId', 'collectionKey.$': '$.collectionKey' }, '$.created'],
      CopyShard: ['copyShard', { 'jobId.$': '$.jobId', 'collectionKey.$': '$.collectionKey', 'shardIndex.$': '$.shardIndex' }, '$.copy'],
      BuildIndexes: ['buildIndexes', { 'jobId.$': '$.jobId', 'collectionKey.$': '$.collectionKey' }, '$.indexes'],
      Verify: ['verify', { 'jobId.$': '$.jobId' }, '$.verification'],
      Finalize: ['finalize', { 'jobId.$': '$.jobId' }, '$.finalized'],
      RecordFailure: ['recordFailure', { 'jobId.$': '$.jobId', 'error.$': '$.error' }, '$.failureRecorded'],
      RecordCreateBatchFailure: ['recordFailure', { 'jobId.$': '$.jobId', 'error.$': '$.error' }, '$.failureRecorded'],
      RecordCopyBatchFailure: ['recordFailure', { 'jobId.$': '$.jobId', 'error.$': '$.error' }, '$.failureRecorded'],
      RecordIndexBatchFailure: ['recordFailure', { 'jobId.$': '$.jobId', 'error.$': '$.error' }, '$.failureRecorded'],
      CopyAccessControl: ['copyAccessControl', { 'jobId.$': '$.jobId' }, '$.accessControl'],
      StartSync: ['startSync', { 'jobId.$': '$.jobId' }, '$.syncStarted'],
      SyncChanges: ['syncChanges', { 'jobId.$': '$.jobId' }, '$.sync'],
      DrainChanges: ['drainChanges', { 'jobId.$': '$.jobId' }, '$.drain'],
      VerifySync: ['verifySync', { 'jobId.$': '$.jobId' }, '$.verification'],
    };
    for (const [name, [stepId, parameters, resultPath]] of Object.entries(expected)) {
      const state = states[name];
      expect(state.Type, name).toBe('Task');
      // payloadResponseOnly: the Resource is the function itself and the output is its return value.
      expect(functions[state.Resource]?.stepId, name).toBe(stepId);
      expect(state.Resource).toBe(localFunctionArn(functions[state.Resource]!.logicalId));
      expect(state.Parameters, name).toEqual(parameters);
      expect(state.ResultPath, name).toBe(resultPath);
      expect(state.Arguments, name).toBeUndefined();
      expect(state.Output, name).toBeUndefined();
    }
  });

  it('gives every Task an explicit timeout above its Lambda timeout', () => {
    const states = allStates(definition);
    const lambdaTimeout = Object.fromEntries(functionsWithStepId().map(([, fn]) => [fn.Properties!.Environment.Variables.STEP_ID, fn.Properties!.Timeout]));
    const functions = stateMachineDefinition(json).functions;
    for (const name of TASKS) {
      const state = states[name];
      expect(state.TimeoutSeconds, name).toBeGreaterThan(lambdaTimeout[functions[state.Resource]!.stepId]);
    }
  });

  it('retries every Task on retryable errors and Lambda service errors with jittered backoff', () => {
    const states = allStates(definition);
    for (const name of TASKS) {
      const retrier = states[name].Retry?.[0];
      expect(retrier?.ErrorEquals, name).toEqual([...RETRYABLE_ERROR_NAMES, ...LAMBDA_SERVICE_ERRORS]);
      expect(retrier).toMatchObject({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6, JitterStrategy: 'FULL' });
      expect(states[name].Retry.flatMap((r: any) => r.ErrorEquals), name).not.toContain('PermanentError');
      expect(states[name].Retry.flatMap((r: any) => r.ErrorEquals), name).not.toContain('States.ALL');
    }
    // Only the steps that resume from a checkpoint (a copy's, a comparison's, or a new sync cycle) retry a timeout.
    const resuming = ['CopyShard', 'SyncChanges', 'DrainChanges', 'VerifySync'];
    for (const name of resuming) expect(states[name].Retry[1].ErrorEquals, name).toEqual(['States.Timeout', 'Sandbox.Timedout']);
    for (const name of TASKS.filter((task) => !resuming.includes(task))) {
      expect(states[name].Retry.flatMap((r: any) => r.ErrorEquals), name).not.toContain('States.Timeout');
    }
  });

  it('catches every failure at the top level into RecordFailure, which ends in MigrationFailed', () => {
    const topLevel = definition.States;
    for (const name of ['Preflight', 'PlanShards', 'CreateCollections', 'CopyCollections', 'IndexCollections', 'Verify', 'Finalize']) {
      expect(topLevel[name].Catch, name).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    }
    // A child execution records its own failure (on AWS its parent sees only States.ExceedToleratedFailureThreshold), then fails.
    for (const [map, label] of [['CreateCollections', 'Create'], ['CopyCollections', 'Copy'], ['IndexCollections', 'Index']] as const) {
      const child = topLevel[map].ItemProcessor.States;
      const inner = Object.keys(child).find((name) => child[name].Type === 'Map')!;
      for (const name of [`Load${label}Batch`, inner]) {
        expect(child[name].Catch, name).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `Record${label}BatchFailure` }]);
      }
      expect(child[`Record${label}BatchFailure`].Next).toBe(`${label}BatchFailed`);
      expect(child[`${label}BatchFailed`]).toEqual({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
    }
    // Inline Map bodies have no Catch: their failures propagate to the child's Catch.
    const states = allStates(definition);
    for (const name of ['CreateTargetCollection', 'CopyShard', 'BuildIndexes', 'RecordFailure']) {
      expect(states[name].Catch, name).toBeUndefined();
    }
    expect(topLevel.RecordFailure.Next).toBe('MigrationFailed');
    expect(topLevel.MigrationFailed).toEqual({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  it('fans out over the copy batches in three Distributed Maps (create, copy, index), looping CopyShard until done', () => {
    expect(definition.States.PlanShards.Next).toBe('CreateCollections');
    expect(definition.States.CreateCollections.Next).toBe('CopyCollections');
    expect(definition.States.CopyCollections.Next).toBe('IndexCollections');
    expect(definition.States.IndexCollections.Next).toBe('CopyAccessControl');
    for (const [name, label, inner] of [['CreateCollections', 'Create', 'CreateBatchCollections'], ['CopyCollections', 'Copy', 'CopyShards'], ['IndexCollections', 'Index', 'IndexBatchCollections']] as const) {
      const map = definition.States[name];
      expect(map, name).toMatchObject({
        Type: 'Map',
        // Items from the state input, not an ItemReader: the local runtime runs this same definition inline.
        ItemsPath: '$.plan.batches',
        MaxConcurrency: 4,
        ResultPath: null,
        Label: label,
        ItemSelector: { 'jobId.$': '$.jobId', 'batch.$': '$$.Map.Item.Value', 'shardConcurrency.$': '$.plan.shardConcurrency' },
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: `Load${label}Batch` },
      });
      expect(map.ItemReader, name).toBeUndefined();
      const child = map.ItemProcessor.States;
      expect(child[`Load${label}Batch`].Next).toBe(inner);
      expect(child[inner]).toMatchObject({ Type: 'Map', ResultPath: null, Next: `${label}BatchDone` });
      expect(child[inner].ItemProcessor.ProcessorConfig?.Mode ?? 'INLINE').toBe('INLINE');
      // A child's output is {}: what the Distributed Map gathers stays a few bytes a batch.
      expect(child[`${label}BatchDone`]).toMatchObject({ Type: 'Pass', Parameters: {}, End: true });
    }
    const creates = definition.States.CreateCollections.ItemProcessor.States.CreateBatchCollections;
    expect(creates).toMatchObject({ ItemsPath: '$.items.collections', MaxConcurrency: 1, ItemSelector: { 'jobId.$': '$.jobId', 'collectionKey.$': '$$.Map.Item.Value' } });
    expect(creates.ItemProcessor.StartAt).toBe('CreateTargetCollection');
    const indexes = definition.States.IndexCollections.ItemProcessor.States.IndexBatchCollections;
    expect(indexes).toMatchObject({ ItemsPath: '$.items.collections', MaxConcurrency: 1 });
    expect(indexes.ItemProcessor.StartAt).toBe('BuildIndexes');
    const shards = definition.States.CopyCollections.ItemProcessor.States.CopyShards;
    expect(shards).toMatchObject({
      ItemsPath: '$.items.shards',
      // The job's options.shardConcurrency, carried from PlanShards.
      MaxConcurrencyPath: '$.shardConcurrency',
      ItemSelector: { 'jobId.$': '$.jobId', 'collectionKey.$': '$$.Map.Item.Value.collectionKey', 'shardIndex.$': '$$.Map.Item.Value.shardIndex' },
    });
    expect(shards.ItemProcessor.StartAt).toBe('CopyShard');
    expect(shards.ItemProcessor.States['ShardDone?']).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.copy.done', BooleanEquals: true, Next: 'ShardCopied' }],
      Default: 'CopyShard',
    });
  });

  it('lets the state machine start, describe and stop executions of itself (the Distributed Maps)', () => {
    const policies = Object.values(json.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('states:StartExecution'));
    const statements = policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((st: any) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution']));
  });

  it('goes back to PlanShards on RECOPY and to Finalize on PASSED', () => {
    const outcome = definition.States.VerificationOutcome;
    expect(outcome.Choices).toEqual([
      { Variable: '$.verification.outcome', StringEquals: 'RECOPY', Next: 'PlanShards' },
      { Variable: '$.verification.outcome', StringEquals: 'PASSED', Next: 'Finalize' },
    ]);
    expect(definition.States.Finalize.Next).toBe('MigrationSucceeded');
    expect(definition.States.MigrationSucceeded.Type).toBe('Succeed');
  });
});
