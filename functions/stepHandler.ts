import { redactUrisIn } from '../lib/cluster';
import { MigrationError } from '../lib/errors';
import { getServices, type Services } from '../lib/services';
import type { StepId } from '../lib/workflow/steps';

/** The slice of the Lambda context a step uses; absent when the local runtime calls the handler. */
export interface StepContext {
  getRemainingTimeInMillis?: () => number;
}

/**
 * Adapts a step of lib/migration to a Lambda handler: resolves the services, checks the payload
 * names a job, logs one structured line per outcome, and rethrows domain errors with their code
 * in the message (`[CODE] reason`), so RecordFailure can write both on the job. The error keeps
 * its class name, which is what the state machine's Retry and Catch match on.
 */
export function stepHandler<I extends { jobId: string }, O>(
  stepId: StepId,
  step: (services: Services, input: I, context: StepContext) => Promise<O>,
) {
  return async function handle(input: I, context: StepContext = {}): Promise<O> {
    if (!input || typeof input.jobId !== 'string' || input.jobId.length === 0) {
      throw new TypeError(`${stepId}: payload must carry a jobId`);
    }
    const started = Date.now();
    try {
      const output = await step(await getServices(), input, context);
      log({ level: 'INFO', step: stepId, jobId: input.jobId, message: 'step completed', durationMs: Date.now() - started });
      return output;
    } catch (error) {
      const coded = codedError(error);
      log({ level: 'ERROR', step: stepId, jobId: input.jobId, message: redactUrisIn(coded.message), error: coded.name, durationMs: Date.now() - started });
      throw coded;
    }
  };
}

function codedError(error: unknown): Error {
  if (error instanceof MigrationError) {
    const coded = new Error(`[${error.code}] ${error.message}`, { cause: error });
    coded.name = error.name;
    return coded;
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** One JSON line per step outcome: to stdout in Lambda (CloudWatch); MILVUS_MIGRATE_STEP_LOG=stderr|off locally. */
function log(entry: Record<string, unknown>): void {
  const sink = process.env.MILVUS_MIGRATE_STEP_LOG ?? 'stdout';
  if (sink === 'off') return;
  const line = JSON.stringify({ timestamp: new Date().toISOString(), ...entry });
  if (sink === 'stderr') process.stderr.write(`${line}\n`);
  else console.log(line);
}
