import { redactUrisIn } from '../lib/cluster';
import { MigrationError } from '../lib/errors';
import { preferAtomicGc } from '../lib/milvus/gc';
import type { Services } from '../lib/services';
import type { StepId } from '../lib/workflow/steps';
import { lambdaStepServices } from './lambdaServices';
import { stepLogger, stepMetrics } from './observability';

// Steps copy and compare data by the hundred MB: see lib/milvus/gc.ts.
preferAtomicGc();

/** The slice of the Lambda context a step uses; absent when the local runtime calls the handler. */
export interface StepContext {
  getRemainingTimeInMillis?: () => number;
}

/** Where a handler gets its services: built from the Lambda environment, or given by the local runtime or a test. */
export type ServicesSource = () => Services | Promise<Services>;

/** A step's handler, and the same handler with other services (the local runtime's, a test's). */
export type StepHandler<I, O> = ((input: I, context?: StepContext) => Promise<O>) & {
  withServices(services: ServicesSource): StepHandler<I, O>;
};

/**
 * Adapts a step of lib/migration to a Lambda handler: resolves the services (by default those
 * built from the Lambda environment on first use; `withServices` gives others), checks the payload
 * names a job, logs one structured line per outcome (Powertools Logger: JSON with the job id and
 * the step on every line), turns the step's output into metrics (functions/observability.ts), and
 * rethrows domain errors with their code in the message (`[CODE] reason`), so RecordFailure can
 * write both on the job. The error keeps its class name, which is what the state machine's Retry
 * and Catch match on. Logs and metrics go to stdout in Lambda; MILVUS_MIGRATE_STEP_LOG=stderr|off
 * moves or silences them locally.
 */
export function stepHandler<I extends { jobId: string }, O>(
  stepId: StepId,
  step: (services: Services, input: I, context: StepContext) => Promise<O>,
  /**
   * By default the Lambda services, which cannot open clusters: the steps that connect pass
   * functions/clusterPool.ts connectingServices. It is not imported here, so the functions that
   * never connect (RecordFailure, StartSync) neither bundle nor load the Milvus SDK.
   */
  getServices: ServicesSource = () => lambdaStepServices(),
): StepHandler<I, O> {
  async function handle(input: I, context: StepContext = {}): Promise<O> {
    if (!input || typeof input.jobId !== 'string' || input.jobId.length === 0) {
      throw new TypeError(`${stepId}: payload must carry a jobId`);
    }
    const logger = stepLogger(stepId, input.jobId, context);
    const started = Date.now();
    try {
      const services = await getServices();
      const metrics = stepMetrics(stepId, services, input, logger);
      await metrics.start();
      const output = await step(services, input, context);
      const durationMs = Date.now() - started;
      logger.info('step completed', { durationMs });
      await metrics.finish(output, durationMs);
      return output;
    } catch (error) {
      const coded = codedError(error);
      logger.error(redactUrisIn(coded.message), { error: coded.name, durationMs: Date.now() - started });
      throw coded;
    }
  }
  return Object.assign(handle, { withServices: (services: ServicesSource) => stepHandler(stepId, step, services) });
}

function codedError(error: unknown): Error {
  if (error instanceof MigrationError) {
    const coded = new Error(`[${error.code}] ${error.message}`, { cause: error });
    coded.name = error.name;
    return coded;
  }
  return error instanceof Error ? error : new Error(String(error));
}
