import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { createLocalAccount, type FunctionCredentials } from '../../local/aws/account';
import type { RunningServer } from '../../local/aws/awsJsonServer';
import { startEventBridge, type LocalEventBridge } from '../../local/aws/eventBridge';
import { startSecretsManager, type LocalSecretsManager } from '../../local/aws/secretsManager';
import { startStepFunctions, type ExecutionDescription } from '../../local/aws/stepFunctions';
import { fn } from '../localAws/support';

/**
 * The AWS CLI as a client independent of the JS SDK: its own signer (botocore), serializer and
 * error parser. Debian's awscli is AWS CLI v2 at /usr/bin/aws; AWS_CLI overrides the path.
 */
const AWS_CLI = process.env.AWS_CLI ?? (existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws');
const run = promisify(execFile);

const account = createLocalAccount(synthesizeTemplate());

async function aws(endpoint: string, credentials: FunctionCredentials, args: string[]): Promise<{ ok: true; json: any } | { ok: false; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  try {
    const { stdout } = await run(AWS_CLI, ['--endpoint-url', endpoint, '--output', 'json', ...args], { env, timeout: 30_000 });
    return { ok: true, json: stdout.trim() ? JSON.parse(stdout) : {} };
  } catch (error) {
    return { ok: false, stderr: String((error as { stderr?: string }).stderr ?? error) };
  }
}

/** CLI v2 prints timestamps as ISO 8601, v1 as epoch seconds. */
function cliTimestamp(value: unknown): number {
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'string') return Date.parse(value);
  throw new Error(`not a timestamp: ${JSON.stringify(value)}`);
}

describe(`AWS CLI (${AWS_CLI}) against the emulators`, () => {
  let secrets: LocalSecretsManager;
  let events: LocalEventBridge;
  let sfn: RunningServer;
  const executions = new Map<string, ExecutionDescription>();
  beforeAll(async () => {
    const version = await run(AWS_CLI, ['--version']);
    console.log(`using ${version.stdout.trim()}`);
    [secrets, events, sfn] = await Promise.all([
      startSecretsManager({ account }),
      startEventBridge({ account }),
      startStepFunctions({
        account,
        onStart(stateMachineArn, name, input) {
          const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
          const startDate = new Date();
          executions.set(executionArn, { status: 'RUNNING', startDate, input });
          return { executionArn, startDate };
        },
        onStop(executionArn, error, cause) {
          Object.assign(executions.get(executionArn)!, { status: 'ABORTED', stopDate: new Date(), error, cause });
        },
        onDescribe: (executionArn) => executions.get(executionArn),
      }),
    ]);
  });
  afterAll(() => Promise.all([secrets?.stop(), events?.stop(), sfn?.stop()]));

  it('secretsmanager create-secret / describe-secret / get-secret-value / delete-secret', async () => {
    const api = fn(account, 'Api');
    const verify = fn(account, 'verify');
    const keyArn = api.environment.CREDENTIALS_KMS_KEY_ID!;
    const created = await aws(secrets.endpoint, api.credentials, [
      'secretsmanager', 'create-secret', '--name', 'milvus-migrate/cli/source', '--secret-string', '{"uri":"http://m:19530"}',
      '--kms-key-id', keyArn, '--tags', 'Key=milvus-migrate:managed,Value=true',
    ]);
    expect(created).toMatchObject({ ok: true, json: { Name: 'milvus-migrate/cli/source', ARN: expect.stringMatching(/:secret:milvus-migrate\/cli\/source-[A-Za-z0-9]{6}$/), VersionId: expect.any(String) } });
    const arn = (created as { json: { ARN: string } }).json.ARN;
    const described = await aws(secrets.endpoint, api.credentials, ['secretsmanager', 'describe-secret', '--secret-id', 'milvus-migrate/cli/source']);
    expect(described).toMatchObject({ ok: true, json: { ARN: arn, KmsKeyId: keyArn, Tags: [{ Key: 'milvus-migrate:managed', Value: 'true' }] } });
    const value = await aws(secrets.endpoint, verify.credentials, ['secretsmanager', 'get-secret-value', '--secret-id', arn]);
    expect(value).toMatchObject({ ok: true, json: { ARN: arn, SecretString: '{"uri":"http://m:19530"}', VersionStages: ['AWSCURRENT'] } });
    const deleted = await aws(secrets.endpoint, fn(account, 'finalize').credentials, ['secretsmanager', 'delete-secret', '--secret-id', arn, '--force-delete-without-recovery']);
    expect(deleted).toMatchObject({ ok: true, json: { ARN: arn, Name: 'milvus-migrate/cli/source' } });
    const gone = await aws(secrets.endpoint, verify.credentials, ['secretsmanager', 'get-secret-value', '--secret-id', arn]);
    expect(gone).toMatchObject({ ok: false, stderr: expect.stringContaining('(ResourceNotFoundException)') });
  });

  it('a refused call: the Api role may not read a secret back', async () => {
    const api = fn(account, 'Api');
    account.clearPermissionLog();
    await aws(secrets.endpoint, api.credentials, ['secretsmanager', 'create-secret', '--name', 'milvus-migrate/cli/target', '--secret-string', '{}']);
    const refused = await aws(secrets.endpoint, api.credentials, ['secretsmanager', 'get-secret-value', '--secret-id', 'milvus-migrate/cli/target']);
    expect(refused).toMatchObject({ ok: false, stderr: expect.stringContaining('(AccessDeniedException) when calling the GetSecretValue operation') });
    expect((refused as { stderr: string }).stderr).toContain(`User: ${api.assumedRoleArn} is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:milvus-migrate/cli/target-`);
    expect(account.deniedCalls()).toEqual([expect.objectContaining({ functionLogicalId: api.logicalId, action: 'secretsmanager:GetSecretValue' })]);
  });

  it('a bad signature is refused', async () => {
    const forged = { ...fn(account, 'Api').credentials, secretAccessKey: 'z'.repeat(40) };
    const refused = await aws(secrets.endpoint, forged, ['secretsmanager', 'describe-secret', '--secret-id', 'x']);
    expect(refused).toMatchObject({ ok: false, stderr: expect.stringContaining('(InvalidSignatureException)') });
  });

  it('events put-events: delivered, unmatched, and refused by the source condition', async () => {
    events.clear();
    const finalize = fn(account, 'finalize');
    const entries = [
      { Source: 'milvus-migrate', DetailType: 'Migration Job Succeeded', Detail: '{"jobId":"cli"}' },
      { Source: 'milvus-migrate', DetailType: 'Something Else', Detail: '{"jobId":"cli"}' },
      { Source: 'not-ours', DetailType: 'Migration Job Succeeded', Detail: '{"jobId":"cli"}' },
    ];
    const put = await aws(events.endpoint, finalize.credentials, ['events', 'put-events', '--entries', JSON.stringify(entries)]);
    expect(put).toMatchObject({ ok: true, json: { FailedEntryCount: 1, Entries: [{ EventId: expect.any(String) }, { EventId: expect.any(String) }, { ErrorCode: 'NotAuthorizedForSourceException' }] } });
    expect(events.deliveries()).toEqual([expect.objectContaining({ status: 'delivered', event: expect.objectContaining({ 'detail-type': 'Migration Job Succeeded' }) })]);
    expect(events.unmatched()).toEqual([expect.objectContaining({ 'detail-type': 'Something Else' })]);
  });

  it('stepfunctions start-execution / describe-execution / stop-execution', async () => {
    const api = fn(account, 'Api');
    const stateMachineArn = api.environment.STATE_MACHINE_ARN!;
    const started = await aws(sfn.endpoint, api.credentials, ['stepfunctions', 'start-execution', '--state-machine-arn', stateMachineArn, '--name', 'cli-job', '--input', '{"jobId":"cli-job"}']);
    expect(started).toMatchObject({ ok: true, json: { executionArn: expect.stringMatching(/:execution:Migration[^:]+:cli-job$/) } });
    const { executionArn, startDate } = (started as { json: { executionArn: string; startDate: unknown } }).json;
    expect(Math.abs(cliTimestamp(startDate) - Date.now())).toBeLessThan(60_000);
    const described = await aws(sfn.endpoint, api.credentials, ['stepfunctions', 'describe-execution', '--execution-arn', executionArn]);
    expect(described).toMatchObject({ ok: true, json: { status: 'RUNNING', name: 'cli-job', stateMachineArn, input: '{"jobId":"cli-job"}' } });
    const stopped = await aws(sfn.endpoint, api.credentials, ['stepfunctions', 'stop-execution', '--execution-arn', executionArn, '--error', 'JobCancelled', '--cause', 'from the CLI']);
    expect(stopped).toMatchObject({ ok: true });
    expect(Math.abs(cliTimestamp((stopped as { json: { stopDate: unknown } }).json.stopDate) - Date.now())).toBeLessThan(60_000);
    expect(executions.get(executionArn)).toMatchObject({ status: 'ABORTED', error: 'JobCancelled', cause: 'from the CLI' });
    const again = await aws(sfn.endpoint, api.credentials, ['stepfunctions', 'start-execution', '--state-machine-arn', stateMachineArn, '--name', 'cli-job', '--input', '{"jobId":"cli-job"}']);
    expect(again).toMatchObject({ ok: false, stderr: expect.stringContaining('(ExecutionAlreadyExists)') });
  });
});
