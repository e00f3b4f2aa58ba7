import { ExecutionDoesNotExist, type SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { JobInput } from './steps';
import { executionName, type WorkflowStarter } from './starter';

export interface SfnWorkflowStarterOptions {
  client: SFNClient;
  stateMachineArn: string;
}

/** Cause text Step Functions keeps for a stopped execution (its limit is 32,768 characters). */
const MAX_CAUSE = 32_768;

/**
 * Starts a Step Functions execution per job run. The execution is named after the job (and the
 * run, for a resume), so starting the same run twice with the same input returns the running
 * execution instead of a second one.
 */
export class SfnWorkflowStarter implements WorkflowStarter {
  private readonly client: SFNClient;
  private readonly stateMachineArn: string;

  constructor(options: SfnWorkflowStarterOptions) {
    this.client = options.client;
    this.stateMachineArn = options.stateMachineArn;
  }

  async start(jobId: string, options: { run?: number } = {}): Promise<{ executionArn: string }> {
    const input: JobInput = { jobId };
    const { executionArn } = await this.client.send(
      new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: executionName(jobId, options.run), input: JSON.stringify(input) }),
    );
    if (!executionArn) throw new Error(`StartExecution for ${jobId} returned no executionArn`);
    return { executionArn };
  }

  async stop(executionArn: string, reason: string): Promise<void> {
    try {
      await this.client.send(new StopExecutionCommand({ executionArn, error: 'JobCancelled', cause: reason.slice(0, MAX_CAUSE) }));
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return;
      throw error;
    }
  }
}
