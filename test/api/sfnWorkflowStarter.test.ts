import { ExecutionDoesNotExist, InvalidName, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { SfnWorkflowStarter } from '../../lib/workflow/sfnWorkflowStarter';

const stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:migrate';
const sfn = mockClient(SFNClient);
const starter = new SfnWorkflowStarter({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArn });

beforeEach(() => {
  sfn.reset();
});

describe('SfnWorkflowStarter', () => {
  it('starts an execution named after the job with the job id as input', async () => {
    const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:migrate:mig-1';
    sfn.on(StartExecutionCommand).resolves({ executionArn, startDate: new Date() });
    await expect(starter.start('mig-1')).resolves.toEqual({ executionArn });
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, { stateMachineArn, name: 'mig-1', input: JSON.stringify({ jobId: 'mig-1' }) });
  });

  it('starts a resumed run as an execution of its own, named after the job and the run', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
    await starter.start('mig-1', { run: 2 });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'mig-1-run2', input: JSON.stringify({ jobId: 'mig-1' }) });
    // Execution names are at most 80 characters: a job id of 80 is cut to make room for the run.
    const longId = `mig-${'a'.repeat(76)}`;
    await starter.start(longId, { run: 12 });
    const name = sfn.commandCalls(StartExecutionCommand).at(-1)!.args[0].input.name!;
    expect(name).toHaveLength(80);
    expect(name.endsWith('-run12')).toBe(true);
  });

  it('passes on a refusal to start', async () => {
    sfn.on(StartExecutionCommand).rejects(new InvalidName({ message: 'bad name', $metadata: {} }));
    await expect(starter.start('mig 1')).rejects.toBeInstanceOf(InvalidName);
  });

  it('stops an execution with the reason as its cause', async () => {
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await starter.stop('arn:aws:states:us-east-1:123456789012:execution:migrate:mig-1', 'cancelled');
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:migrate:mig-1',
      error: 'JobCancelled',
      cause: 'cancelled',
    });
  });

  it('treats stopping an execution that does not exist as done', async () => {
    sfn.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'gone', $metadata: {} }));
    await expect(starter.stop('arn:aws:states:us-east-1:123456789012:execution:migrate:gone', 'cancelled')).resolves.toBeUndefined();
    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
  });
});
