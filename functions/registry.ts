import type { StepId } from '../lib/workflow/steps';
import { handler as buildIndexes } from './steps/buildIndexes';
import { handler as copyShard } from './steps/copyShard';
import { handler as createTargetCollection } from './steps/createTargetCollection';
import { handler as finalize } from './steps/finalize';
import { handler as planShards } from './steps/planShards';
import { handler as preflight } from './steps/preflight';
import { handler as recordFailure } from './steps/recordFailure';
import { handler as verify } from './steps/verify';
import { handler as copyAccessControl } from './steps/copyAccessControl';
import { handler as startSync } from './steps/startSync';
import { handler as syncChanges } from './steps/syncChanges';
import { handler as drainChanges } from './steps/drainChanges';
import { handler as verifySync } from './steps/verifySync';

/** Every step handler by step id: how the local runtime runs the functions of the synthesized state machine. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const stepHandlers: Record<StepId, (payload: any) => Promise<unknown>> = {
  preflight,
  planShards,
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
