import './polyfills';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { startApiServer, type ApiServer } from '../functions/localHttpServer';
import { stateMachineDefinition } from '../infra/synth';
import { createJobTable } from '../lib/jobs/table';
import type { StepId } from '../lib/workflow/steps';
import { readAssembly, type CloudAssembly } from './artifacts/assembly';
import {
  createLocalAccount,
  functionEnvironment,
  startDynamoProxy,
  startEventBridge,
  startSecretsManager,
  startStepFunctions,
  type LocalAccount,
  type LocalAwsEndpoints,
  type LocalEventBridge,
  type LocalFunction,
  type LocalSecretsManager,
} from './aws';
import { dynamoEndpointFromEnvironment, startDynamoLocal, type LocalDynamo } from './dynamoLocal';
import type { InvokeResult, LogSink } from './lambda/executionEnvironment';
import { LambdaSandbox } from './lambda/sandbox';
import { LocalExecutions } from './localExecutions';

export interface ArtifactRuntimeOptions {
  /** A `cdk synth --output DIR` folder. */
  assemblyDir: string;
  /** Use a running DynamoDB (Local) instead of starting one (default: MILVUS_MIGRATE_DYNAMODB_ENDPOINT, if set). */
  dynamoEndpoint?: string;
  tableName?: string;
  /** Where the API answers: 0 (the default) picks a free port. */
  apiPort?: number;
  apiHost?: string;
  /** Shortens Wait states (ms), for tests and demos of the online loop. */
  waitTimeOverrideMs?: number;
  /** Shortens Retry intervals (ms), for tests. */
  retryIntervalOverrideMs?: number;
  /** Every line the functions print (their CloudWatch logs on AWS); dropped when absent. */
  log?: LogSink;
}

export interface ArtifactRuntime {
  assembly: CloudAssembly;
  account: LocalAccount;
  sandbox: LambdaSandbox;
  /** The API Gateway stand-in in front of the API function's asset. */
  apiUrl: string;
  secretsManager: LocalSecretsManager;
  eventBridge: LocalEventBridge;
  executions: LocalExecutions;
  dynamoEndpoint: string;
  stop(): Promise<void>;
}

/**
 * The deployed service on one machine: what `cdk synth` built, run the way AWS runs it. Every Task
 * of the synthesized state machine invokes its function's asset in the Lambda sandbox; the HTTP API
 * invokes the API function's asset with API Gateway's proxy event. The bundled code reaches its AWS
 * services with its own SDK clients, through the standard endpoint variables: DynamoDB Local (AWS's
 * code) behind a proxy that checks each call against the caller's IAM policy, and local emulations
 * of Secrets Manager, EventBridge and the Step Functions API (local/aws/).
 */
export async function startArtifactRuntime(options: ArtifactRuntimeOptions): Promise<ArtifactRuntime> {
  const assembly = readAssembly(options.assemblyDir);
  const tableName = options.tableName ?? 'milvus-migrate-jobs';
  const account = createLocalAccount(assembly.template, { tableName });
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    let dynamo: LocalDynamo | undefined;
    const dynamoEndpoint = options.dynamoEndpoint ?? dynamoEndpointFromEnvironment() ?? (dynamo = await startDynamoLocal()).endpoint;
    if (dynamo) started.push(dynamo);
    await createTable(dynamoEndpoint, tableName);

    const dynamoProxy = await startDynamoProxy({ account, target: dynamoEndpoint });
    started.push(dynamoProxy);
    const secretsManager = await startSecretsManager({ account });
    started.push(secretsManager);
    const eventBridge = await startEventBridge({ account });
    started.push(eventBridge);

    // The Step Functions API answers for the executions below, which need the sandbox, which needs
    // this endpoint: the callbacks close over `executions`, set before any call can arrive.
    // eslint-disable-next-line prefer-const -- declared ahead of its one assignment so that `running` reports an early call clearly
    let executions: LocalExecutions | undefined;
    const running = () => {
      if (!executions) throw new Error('the local state machine is not ready yet');
      return executions;
    };
    const stepFunctions = await startStepFunctions({
      account,
      onStart: (stateMachineArn, name, input) => running().start(stateMachineArn, name, input),
      onStop: (executionArn, error, cause) => void running().stop(executionArn, error, cause),
      onDescribe: (executionArn) => running().describe(executionArn),
    });
    started.push(stepFunctions);

    const endpoints: LocalAwsEndpoints = {
      dynamodb: dynamoProxy.endpoint,
      secretsManager: secretsManager.endpoint,
      eventBridge: eventBridge.endpoint,
      stepFunctions: stepFunctions.endpoint,
    };
    const sandbox = new LambdaSandbox(
      Object.values(account.functions).map((fn) => sandboxFunction(assembly, account, fn, endpoints)),
      options.log ?? (() => {}),
    );
    started.push(sandbox);

    const { definition, functions } = stateMachineDefinition(assembly.template);
    const stateMachine = Object.values(account.stateMachines)[0];
    if (!stateMachine) throw new Error('the template has no state machine');
    executions = new LocalExecutions({
      definition,
      functions,
      stateMachineName: stateMachine.name,
      stateMachineArn: stateMachine.arn,
      invoke: (stepId, payload) => invokeStep(sandbox, stepFunctionOf(functions, stepId), payload),
      waitTimeOverrideMs: options.waitTimeOverrideMs,
      retryIntervalOverrideMs: options.retryIntervalOverrideMs,
    });
    const allExecutions = executions;
    started.push({ stop: () => allExecutions.stopAll() });

    const apiFunction = Object.values(account.functions).find((fn) => !fn.environment.STEP_ID);
    if (!apiFunction) throw new Error('the template has no API function (a function without STEP_ID)');
    const api: ApiServer = await startApiServer({
      port: options.apiPort ?? 0,
      host: options.apiHost,
      handler: async (event) => proxyResult(await sandbox.get(apiFunction.name).invoke(event)),
    });
    started.push({ stop: () => api.close() });

    return {
      assembly,
      account,
      sandbox,
      apiUrl: api.url,
      secretsManager,
      eventBridge,
      executions: allExecutions,
      dynamoEndpoint,
      async stop() {
        await stopAll(started);
      },
    };
  } catch (error) {
    await stopAll(started);
    throw error;
  }
}

/** Stops what was started, last first (the API before the functions before the services they call). */
async function stopAll(started: Array<{ stop(): Promise<void> }>): Promise<void> {
  for (const part of started.splice(0).reverse()) await part.stop().catch(() => {});
}

async function createTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await createJobTable(client, tableName);
  } finally {
    client.destroy();
  }
}

/** A function of the template as the sandbox runs it: its asset, its resolved environment, its role's credentials, the local endpoints. */
function sandboxFunction(assembly: CloudAssembly, account: LocalAccount, fn: LocalFunction, endpoints: LocalAwsEndpoints) {
  return {
    name: fn.name,
    arn: fn.arn,
    handler: fn.handler,
    memoryMiB: fn.memoryMiB,
    timeoutSeconds: fn.timeoutSeconds,
    region: account.region,
    logGroupName: `/aws/lambda/${fn.name}`,
    assetDir: assembly.assetDir(fn.logicalId),
    environment: functionEnvironment(account, fn, endpoints),
  };
}

function stepFunctionOf(functions: Record<string, { logicalId: string; stepId: StepId }>, stepId: StepId): string {
  const found = Object.values(functions).find((fn) => fn.stepId === stepId);
  if (!found) throw new Error(`no function of the template runs step ${stepId}`);
  return found.logicalId;
}

/**
 * A `lambda:invoke` Task: the payload goes to the function; a function error fails the Task with
 * the error type as Error and the error document as Cause, a JSON string, as on AWS.
 */
async function invokeStep(sandbox: LambdaSandbox, functionName: string, payload: unknown): Promise<unknown> {
  const result = await sandbox.get(functionName).invoke(payload);
  if (result.ok) return result.payload;
  const error = new Error(JSON.stringify(result.error));
  error.name = result.error.errorType;
  throw error;
}

/** API Gateway's Lambda proxy integration: the function's answer, or a 502 when the function failed or answered malformed. */
function proxyResult(result: InvokeResult): APIGatewayProxyResult {
  const badGateway = { statusCode: 502, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'Internal server error' }) };
  if (!result.ok) return badGateway;
  const answer = result.payload as Partial<APIGatewayProxyResult> | null;
  if (!answer || typeof answer.statusCode !== 'number') return badGateway;
  return { statusCode: answer.statusCode, headers: answer.headers ?? {}, body: typeof answer.body === 'string' ? answer.body : '' };
}
