import { DescribeExecutionCommand, ExecutionAlreadyExists, ExecutionDoesNotExist, InvalidName, SFNClient, StartExecutionCommand, StateMachineDoesNotExist, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { SfnWorkflowStarter } from '../../lib/workflow/sfnWorkflowStarter';
import { createLocalAccount } from '../../local/aws/account';
import { startStepFunctions, type ExecutionDescription } from '../../local/aws/stepFunctions';
import type { RunningServer } from '../../local/aws/awsJsonServer';
import { clientConfig, edited, fn, logicalIdOf } from './support';

const template = synthesizeTemplate();

/** A stand-in for the local state machine runner: executions that run until stopped. */
function fakeRunner() {
  const executions = new Map<string, ExecutionDescription>();
  return {
    executions,
    onStart(stateMachineArn: string, name: string, input: string) {
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const startDate = new Date();
      executions.set(executionArn, { status: 'RUNNING', startDate, input });
      return { executionArn, startDate };
    },
    onStop(executionArn: string, error?: string, cause?: string) {
      Object.assign(executions.get(executionArn)!, { status: 'ABORTED', stopDate: new Date(), error, cause });
    },
    onDescribe: (executionArn: string) => executions.get(executionArn),
  };
}

describe('Step Functions API emulation', () => {
  const account = createLocalAccount(template);
  const runner = fakeRunner();
  const api = fn(account, 'Api');
  const stateMachineArn = api.environment.STATE_MACHINE_ARN!;
  let server: RunningServer;
  let client: SFNClient;
  beforeAll(async () => {
    server = await startStepFunctions({ account, ...runner });
    client = new SFNClient(clientConfig(server.endpoint, api.credentials));
  });
  afterAll(() => server.stop());

  it('the workflow starter starts, describes and stops an execution as the Api function', async () => {
    const starter = new SfnWorkflowStarter({ client, stateMachineArn });
    const { executionArn } = await starter.start('job-1');
    expect(executionArn).toBe(`${stateMachineArn.replace(':stateMachine:', ':execution:')}:job-1`);
    // Standard workflows: the same name and input while running is the same execution.
    expect((await starter.start('job-1')).executionArn).toBe(executionArn);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'RUNNING', name: 'job-1', stateMachineArn, input: '{"jobId":"job-1"}' });
    expect(described.startDate).toBeInstanceOf(Date);
    await starter.stop(executionArn, 'cancelled by the user');
    expect(await client.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: 'ABORTED', error: 'JobCancelled', cause: 'cancelled by the user' });
    // A name is not reused once the execution closed, nor with another input.
    await expect(starter.start('job-1')).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await client.send(new StartExecutionCommand({ stateMachineArn, name: 'job-2', input: '{"jobId":"job-2"}' }));
    await expect(client.send(new StartExecutionCommand({ stateMachineArn, name: 'job-2', input: '{"jobId":"other"}' }))).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect(account.deniedCalls()).toEqual([]);
  });

  it('validates as AWS does', async () => {
    // Authorization comes first: the Api may start only its own state machine; the account root learns it does not exist.
    const elsewhere = stateMachineArn.replace(/:[^:]+$/, ':Nope');
    await expect(client.send(new StartExecutionCommand({ stateMachineArn: elsewhere, name: 'a' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    const root = new SFNClient(clientConfig(server.endpoint, account.rootCredentials));
    await expect(root.send(new StartExecutionCommand({ stateMachineArn: elsewhere, name: 'a' }))).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    for (const name of ['has space', 'a/b', 'x'.repeat(81), 'star*', 'br[ack]', 'semi;colon']) {
      await expect(client.send(new StartExecutionCommand({ stateMachineArn, name }))).rejects.toBeInstanceOf(InvalidName);
    }
    await expect(client.send(new StartExecutionCommand({ stateMachineArn, name: 'j', input: '{oops' }))).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(client.send(new StartExecutionCommand({ stateMachineArn, name: 'j', input: JSON.stringify({ a: 'x'.repeat(256 * 1024) }) }))).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    const unknownExecution = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:never`;
    await expect(client.send(new DescribeExecutionCommand({ executionArn: unknownExecution }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(client.send(new StopExecutionCommand({ executionArn: unknownExecution }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(client.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:x' }))).rejects.toMatchObject({ name: 'InvalidArn' });
  });

  it('refuses a step function starting executions and logs it', async () => {
    account.clearPermissionLog();
    const copyShard = fn(account, 'copyShard');
    const stepClient = new SFNClient(clientConfig(server.endpoint, copyShard.credentials));
    const error = await stepClient.send(new StartExecutionCommand({ stateMachineArn, name: 'sneaky' })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException', message: `User: ${copyShard.assumedRoleArn} is not authorized to perform: states:StartExecution on resource: ${stateMachineArn} because no identity-based policy allows the states:StartExecution action` });
    expect(account.deniedCalls()).toEqual([expect.objectContaining({ functionLogicalId: copyShard.logicalId, action: 'states:StartExecution', resource: stateMachineArn })]);
    expect(runner.executions.has(`${stateMachineArn.replace(':stateMachine:', ':execution:')}:sneaky`)).toBe(false);
  });

  it('guard: without the execution-ARN statement the Api cannot stop or describe', async () => {
    const policyId = logicalIdOf(template, 'AWS::IAM::Policy', 'ApiRoleDefaultPolicy');
    const narrowed = createLocalAccount(edited(template, (r) => {
      const doc = r[policyId].Properties.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: { Action: unknown }) => !JSON.stringify(s.Action).includes('states:StopExecution'));
    }));
    const other = fakeRunner();
    const narrowServer = await startStepFunctions({ account: narrowed, ...other });
    try {
      const narrowClient = new SFNClient(clientConfig(narrowServer.endpoint, fn(narrowed, 'Api').credentials));
      const { executionArn } = await narrowClient.send(new StartExecutionCommand({ stateMachineArn, name: 'job-9' }));
      await expect(narrowClient.send(new StopExecutionCommand({ executionArn }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(narrowClient.send(new DescribeExecutionCommand({ executionArn }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(narrowed.deniedCalls().map((d) => [d.action, d.resource])).toEqual([
        ['states:StopExecution', executionArn],
        ['states:DescribeExecution', executionArn],
      ]);
    } finally {
      await narrowServer.stop();
    }
  });
});
