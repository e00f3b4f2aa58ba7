import type { StepId } from '../lib/workflow/steps';
import { handler as buildIndexes } from './steps/buildIndexes';
import { handler as copyShard } from './steps/copyShard';
import { handler as createTargetCollection } from './steps/createTargetCollection';
import { handler as finalize } from './steps/finalize';
import { handler as loadCopyBatch } from './steps/loadCopyBatch';
import { handler as planShards } from './steps/planShards';
import { handler as preflight } from './steps/preflight';
import { handler as recordFailure } from './steps/recordFailure';
import { handler as verify } from './steps/verify';
import { handler as copyAccessControl } from './steps/copyAccessControl';
import { handler as startSync } from './steps/startSync';
import { handler as syncChanges } from './steps/syncChanges';
import { handler as drainChanges } from './steps/drainChanges';
import { handler as verifySync } from './steps/verifySync';

import type { Services } from '../lib/services';
import type { StepHandler } from './stepHandler';

/** Every step's Lambda handler by step id (each builds its services from the Lambda environment). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const lambdaHandlers: Record<StepId, StepHandler<any, unknown>> = {
  preflight,
  planShards,
  loadCopyBatch,
  createTargetCollection,
  copyShard,
  buildIndexes,
  verify,
  finalize,
  recordFailure,
  copyAccessControl,
  startSync,
  syncChanges,
  drainChanges,
  verifySync,
};

/**
 * Every step handler by step id, running with the given services: how the local runtime runs the
 * functions of the synthesized state machine (the same adapters as in Lambda, its own services).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function stepHandlersFor(services: Services): Record<StepId, (payload: any) => Promise<unknown>> {
  const given = () => services;
  return Object.fromEntries(Object.entries(lambdaHandlers).map(([stepId, handler]) => [stepId, handler.withServices(given)])) as typeof lambdaHandlers;
}
