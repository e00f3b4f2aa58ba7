import { drainChanges } from '../../lib/sync/drainChanges';
import type { JobInput } from '../../lib/workflow/steps';
import { connectingServices } from '../clusterPool';
import { COMPARISON_BUDGET, stepBudget } from '../stepBudget';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('drainChanges', (services, input: JobInput, context) => drainChanges(services, input, stepBudget(context, COMPARISON_BUDGET)), connectingServices);
