import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { createJobTable } from '../../lib/jobs/table';
import { createLocalAccount, functionEnvironment, startDynamoProxy, startEventBridge, startSecretsManager, startStepFunctions, type LocalAwsEndpoints, type RunningServer } from '../../local/aws';
import { clientConfig, fn } from './support';

const tableName = `jobs-env-${process.pid}-${Date.now()}`;
const account = createLocalAccount(synthesizeTemplate(), { tableName });

/** Runs `body` with process.env set as the function's environment, as the bundled code would see it. */
async function asFunction<T>(step: string, endpoints: LocalAwsEndpoints, body: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, functionEnvironment(account, fn(account, step), endpoints));
  try {
    return await body();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('function environment: SDK clients built with no options reach the emulators as the function', () => {
  let servers: RunningServer[];
  let endpoints: LocalAwsEndpoints;
  beforeAll(async () => {
    const [secrets, events, sfn, dynamo] = await Promise.all([
      startSecretsManager({ account }),
      startEventBridge({ account }),
      startStepFunctions({ account, onStart: () => ({ executionArn: 'x', startDate: new Date() }), onStop: () => undefined, onDescribe: () => undefined }),
      startDynamoProxy({ account, target: inject('dynamoEndpoint') }),
    ]);
    servers = [secrets, events, sfn, dynamo];
    endpoints = { secretsManager: secrets.endpoint, eventBridge: events.endpoint, stepFunctions: sfn.endpoint, dynamodb: dynamo.endpoint };
    await createJobTable(new DynamoDBClient(clientConfig(dynamo.endpoint, account.rootCredentials)), tableName);
  });
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('AWS_ENDPOINT_URL_* and the role credentials are what the SDK uses', async () => {
    account.clearPermissionLog();
    const api = fn(account, 'Api');
    const created = await asFunction('Api', endpoints, () => new SecretsManagerClient({}).send(new CreateSecretCommand({ Name: 'milvus-migrate/env', SecretString: '{}' })));
    expect(created.ARN).toContain(':secret:milvus-migrate/env-');
    const table = await asFunction('Api', endpoints, () => new DynamoDBClient({}).send(new DescribeTableCommand({ TableName: api.environment.JOBS_TABLE })));
    expect(table.Table?.TableName).toBe(tableName);
    const put = await asFunction('finalize', endpoints, () => new EventBridgeClient({}).send(new PutEventsCommand({ Entries: [{ Source: 'milvus-migrate', DetailType: 'Migration Job Succeeded', Detail: '{}' }] })));
    expect(put.FailedEntryCount).toBe(0);
    // A step asking Step Functions is refused, and the log names the step: the credentials were the step's.
    await expect(asFunction('copyShard', endpoints, () => new SFNClient({}).send(new DescribeExecutionCommand({ executionArn: `${api.environment.STATE_MACHINE_ARN!.replace(':stateMachine:', ':execution:')}:j` })))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(account.permissionLog().map((e) => [e.functionLogicalId, e.action, e.allowed])).toEqual([
      [api.logicalId, 'secretsmanager:CreateSecret', true],
      [api.logicalId, 'dynamodb:DescribeTable', true],
      [fn(account, 'finalize').logicalId, 'events:PutEvents', true],
      [fn(account, 'copyShard').logicalId, 'states:DescribeExecution', false],
    ]);
  });
});
