import { redactUrisIn } from '../lib/cluster';
import { MigrationError } from '../lib/errors';
import { preferAtomicGc } from '../lib/milvus/gc';
import { getServices, type Services } from '../lib/services';
import type { StepId } from '../lib/workflow/steps';
import { stepLogger, stepMetrics } from './observability';

// Steps copy and compare data by the hundred MB: see lib/milvus/gc.ts.
preferAtomicGc();

/** The slice of the Lambda context a step uses; absent when the local runtime calls the handler. */
export interface StepContext {
  getRemainingTimeInMillis?: () => number;
}

/**
 * Adapts a step of lib/migration to a Lambda handler: resolves the services, checks the payload
 * names a job, logs one structured line per outcome (Powertools Logger: JSON with the job id and
 * the step on every line), turns the step's output into metrics (functions/observability.ts), and
 * rethrows domain errors with their code in the message (`[CODE] reason`), so RecordFailure can
 * write both on the job. The error keeps its class name, which is what the state machine's Retry
 * and Catch match on. Logs and metrics go to stdout in Lambda; MILVUS_MIGRATE_STEP_LOG=stderr|off
 * moves or silences them locally.
 *
 * `openCluster` is how the step's services connect in Lambda: the steps that connect pass
 * lib/milvus/pool.ts openPooledCluster; the others pass nothing, so their bundles hold no Milvus
 * SDK (infra CONNECTING_STEPS lists the same steps).
 */
export function stepHandler<I extends { jobId: string }, O>(
  stepId: StepId,
  step: (services: Services, input: I, context: StepContext) => Promise<O>,
  openCluster?: Services['openCluster'],
) {
  return async function handle(input: I, context: StepContext = {}): Promise<O> {
    if (!input || typeof input.jobId !== 'string' || input.jobId.length === 0) {
      throw new TypeError(`${stepId}: payload must carry a jobId`);
    }
    const logger = stepLogger(stepId, input.jobId, context);
    const started = Date.now();
    try {
      const services = await getServices(openCluster);
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
