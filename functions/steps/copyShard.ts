import { copyShard } from '../../lib/migration/copyShard';
import type { ShardInput } from '../../lib/workflow/steps';
import { connectingServices } from '../clusterPool';
import { COPY_BUDGET, stepBudget } from '../stepBudget';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler(
  'copyShard',
  (services, input: ShardInput, context) => copyShard(services, input, stepBudget(context, COPY_BUDGET)),
  connectingServices,
);
