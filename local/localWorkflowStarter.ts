import { executionName, type WorkflowStarter } from '../lib/workflow/starter';
import {
  createLocalStateMachine,
  type LocalExecution,
  type LocalExecutionResult,
  type LocalStateMachine,
  type LocalStateMachineOptions,
} from './localStateMachine';

export interface LocalWorkflowStarterOptions {
  /** Called once an execution has ended, whatever its status (errors it throws are ignored). */
  onSettled?(executionArn: string, jobId: string, result: LocalExecutionResult): void | Promise<void>;
}

interface RunningExecution {
  jobId: string;
  execution: LocalExecution;
  /** The result, once onSettled has run. */
  settled: Promise<LocalExecutionResult>;
  ended: boolean;
}

/**
 * Starts the state machine in process (createLocalStateMachine) in place of Step Functions: each
 * execution runs in the background until it ends or is stopped.
 */
export class LocalWorkflowStarter implements WorkflowStarter {
  private readonly executions = new Map<string, RunningExecution>();
  private readonly stateMachine: LocalStateMachine;
  private readonly options: LocalWorkflowStarterOptions;

  /** Runs `stateMachine`, or the one createLocalStateMachine builds from these options. */
  constructor(stateMachine: LocalStateMachine | (LocalStateMachineOptions & LocalWorkflowStarterOptions), options?: LocalWorkflowStarterOptions) {
    if ('start' in stateMachine) {
      this.stateMachine = stateMachine;
      this.options = options ?? {};
    } else {
      this.stateMachine = createLocalStateMachine(stateMachine);
      this.options = { onSettled: stateMachine.onSettled, ...options };
    }
  }

  async start(jobId: string, options: { run?: number } = {}): Promise<{ executionArn: string }> {
    const execution = this.stateMachine.start({ jobId }, `${executionName(jobId, options.run)}-${Date.now()}`);
    const { executionArn } = execution;
    const entry: RunningExecution = {
      jobId,
      execution,
      ended: false,
      settled: execution.result.then(async (result) => {
        entry.ended = true;
        try {
          await this.options.onSettled?.(executionArn, jobId, result);
        } catch {
          // An observer's failure does not change how the execution ended.
        }
        return result;
      }),
    };
    this.executions.set(executionArn, entry);
    return { executionArn };
  }

  /** Aborts the execution (like StopExecution). Steps already running finish their current call. */
  async stop(executionArn: string, _reason: string): Promise<void> {
    this.executions.get(executionArn)?.execution.abort();
  }

  /** Resolves when the execution has ended (and onSettled has run). */
  wait(executionArn: string): Promise<LocalExecutionResult> {
    const entry = this.executions.get(executionArn);
    if (!entry) return Promise.reject(new Error(`no local execution ${executionArn}`));
    return entry.settled;
  }

  /** Stops every execution still running and waits until they have all ended. */
  async stopAll(reason: string): Promise<void> {
    const running = this.running();
    await Promise.all(running.map((executionArn) => this.stop(executionArn, reason)));
    await Promise.all(running.map((executionArn) => this.wait(executionArn)));
  }

  /** Executions started by this starter that have not ended yet. */
  running(): string[] {
    return [...this.executions].filter(([, entry]) => !entry.ended).map(([executionArn]) => executionArn);
  }
}
