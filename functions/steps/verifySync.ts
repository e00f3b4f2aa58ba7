import { verifySync } from '../../lib/sync/verifySync';
import type { JobInput } from '../../lib/workflow/steps';
import { connectingServices } from '../clusterPool';
import { COMPARISON_BUDGET, stepBudget } from '../stepBudget';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verifySync', (services, input: JobInput, context) => verifySync(services, input, stepBudget(context, COMPARISON_BUDGET)), connectingServices);
