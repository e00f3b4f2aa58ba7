/** Starts and stops the state machine execution that drives a job: Step Functions on AWS, in-process locally. */
export interface WorkflowStarter {
  /**
   * Starts an execution for the job. `run` numbers the job's executions (1 at creation, 2 for its
   * first resume...): each run is an execution of its own, named apart from the others.
   */
  start(jobId: string, options?: { run?: number }): Promise<{ executionArn: string }>;
  stop(executionArn: string, reason: string): Promise<void>;
}

/** The name of a job's execution: the job id for its first run, `<jobId>-run<n>` for a resume (names are at most 80 characters). */
export function executionName(jobId: string, run = 1): string {
  return run === 1 ? jobId : `${jobId.slice(0, 80 - `-run${run}`.length)}-run${run}`;
}
