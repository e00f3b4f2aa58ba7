import { STEP_IDS, type StepId } from '../lib/workflow/steps';
import { createLocalStateMachine, type LocalExecution, type LocalExecutionResult, type LocalStateMachine, type LocalStepHandler } from './localStateMachine';

/**
 * The executions of one synthesized state machine run locally, kept as Step Functions keeps them
 * for StartExecution, StopExecution and DescribeExecution: by ARN, with their name, input, status
 * and outcome. Tasks call `invoke` with their step and payload (the artifact mode: a Lambda asset).
 */

export interface LocalExecutionsOptions {
  definition: Record<string, any>;
  functions: Record<string, { stepId: StepId; logicalId?: string }>;
  stateMachineName: string;
  stateMachineArn: string;
  invoke(stepId: StepId, payload: unknown): Promise<unknown>;
  waitTimeOverrideMs?: number;
  retryIntervalOverrideMs?: number;
}

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

interface Entry {
  description: ExecutionDescription;
  execution: LocalExecution;
  settled: Promise<LocalExecutionResult>;
  /** StopExecution's error and cause, which the execution then ends with. */
  stopped?: { error?: string; cause?: string };
}

export class LocalExecutions {
  private readonly stateMachine: LocalStateMachine;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: LocalExecutionsOptions) {
    const handler: (stepId: StepId) => LocalStepHandler = (stepId) => (payload) => options.invoke(stepId, payload);
    this.stateMachine = createLocalStateMachine({
      definition: options.definition,
      functions: options.functions,
      handlers: Object.fromEntries(STEP_IDS.map((stepId) => [stepId, handler(stepId)])) as Record<StepId, LocalStepHandler>,
      stateMachineName: options.stateMachineName,
      waitTimeOverrideMs: options.waitTimeOverrideMs,
      retryIntervalOverrideMs: options.retryIntervalOverrideMs,
    });
  }

  /**
   * Starts an execution. A name already used with the same input returns that execution (Standard
   * workflows are idempotent on name and input); with another input it is refused.
   */
  start(stateMachineArn: string, name: string, input: string): { executionArn: string; startDate: Date } {
    if (stateMachineArn !== this.options.stateMachineArn) throw namedError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const existing = [...this.entries.values()].find((entry) => entry.description.name === name);
    if (existing) {
      if (existing.description.input === input && existing.description.status === 'RUNNING') {
        return { executionArn: existing.description.executionArn, startDate: existing.description.startDate };
      }
      throw namedError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.description.executionArn}'`);
    }
    const execution = this.stateMachine.start(JSON.parse(input), name);
    const description: ExecutionDescription = { executionArn: execution.executionArn, stateMachineArn, name, status: 'RUNNING', startDate: new Date(), input };
    const entry: Entry = {
      description,
      execution,
      settled: execution.result.then((result) => {
        description.stopDate = new Date();
        description.status = result.status;
        if (result.status === 'SUCCEEDED') description.output = JSON.stringify(result.output ?? null);
        const error = result.status === 'ABORTED' ? entry.stopped : result.error && { error: result.error.Error, cause: result.error.Cause };
        if (error?.error !== undefined) description.error = error.error;
        if (error?.cause !== undefined) description.cause = error.cause;
        return result;
      }),
    };
    this.entries.set(execution.executionArn, entry);
    return { executionArn: execution.executionArn, startDate: description.startDate };
  }

  /** Aborts a running execution (steps already running finish their invocation, as Lambda does). */
  stop(executionArn: string, error?: string, cause?: string): { stopDate: Date } {
    const entry = this.entries.get(executionArn);
    if (!entry) throw namedError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    if (entry.description.status === 'RUNNING' && !entry.stopped) {
      entry.stopped = { error, cause };
      entry.execution.abort();
    }
    return { stopDate: entry.description.stopDate ?? new Date() };
  }

  describe(executionArn: string): ExecutionDescription | undefined {
    const entry = this.entries.get(executionArn);
    return entry && { ...entry.description };
  }

  /** Resolves when the execution has ended. */
  wait(executionArn: string): Promise<LocalExecutionResult> {
    const entry = this.entries.get(executionArn);
    if (!entry) return Promise.reject(new Error(`no local execution ${executionArn}`));
    return entry.settled;
  }

  /** Executions that have not ended yet. */
  running(): string[] {
    return [...this.entries.values()].filter((entry) => entry.description.status === 'RUNNING').map((entry) => entry.description.executionArn);
  }

  /** Aborts every running execution and waits for each to end. */
  async stopAll(): Promise<void> {
    const running = this.running();
    for (const executionArn of running) this.stop(executionArn, 'RuntimeStopping', 'the local runtime is stopping');
    await Promise.all(running.map((executionArn) => this.wait(executionArn)));
  }
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
