/** Starts and stops the state machine execution that drives a job: Step Functions on AWS, in-process locally. */
export interface WorkflowStarter {
  start(jobId: string): Promise<{ executionArn: string }>;
  stop(executionArn: string, reason: string): Promise<void>;
}
