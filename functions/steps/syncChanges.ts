import { syncChanges } from '../../lib/sync/syncChanges';
import type { JobInput } from '../../lib/workflow/steps';
import { recordSyncLag } from '../observability';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

/** Time left after the last cycle for recording it and closing connections. */
const SAFETY_MARGIN_MS = 90_000;
/** Without a Lambda context (local runtime), a step syncs this long before the state machine's Wait. */
const localBudgetMs = () => Number(process.env.SYNC_CHANGES_BUDGET_MS ?? 60_000);

export const handler = stepHandler('syncChanges', (services, input: JobInput, context) => {
  const remaining = context.getRemainingTimeInMillis?.();
  const deadline = remaining === undefined ? Date.now() + localBudgetMs() : Date.now() + Math.max(remaining - SAFETY_MARGIN_MS, 10_000);
  return syncChanges(services, input, { deadline, onCycleRecorded: (lag, cycle) => recordSyncLag(input.jobId, lag, cycle) });
}, connectingServices);
