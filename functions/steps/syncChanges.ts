import { syncChanges } from '../../lib/sync/syncChanges';
import type { JobInput } from '../../lib/workflow/steps';
import { recordSyncLag } from '../observability';
import { connectingServices } from '../clusterPool';
import { stepBudget, SYNC_BUDGET } from '../stepBudget';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('syncChanges', (services, input: JobInput, context) => {
  const { deadline } = stepBudget(context, SYNC_BUDGET);
  return syncChanges(services, input, { deadline, onCycleRecorded: (lag, cycle) => recordSyncLag(input.jobId, lag, cycle) });
}, connectingServices);
