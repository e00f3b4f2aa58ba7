import { copyShard } from '../../lib/migration/copyShard';
import type { ShardInput } from '../../lib/workflow/steps';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

/** Time left for cleanup after the last batch: checkpoint write, event, connection close. */
const SAFETY_MARGIN_MS = 60_000;
/** Without a Lambda context (local runtime), a step copies this long before the state machine loops. */
const localBudgetMs = () => Number(process.env.COPY_SHARD_BUDGET_MS ?? 5 * 60_000);

export const handler = stepHandler('copyShard', (services, input: ShardInput, context) => {
  const remaining = context.getRemainingTimeInMillis?.();
  const deadline = remaining === undefined ? Date.now() + localBudgetMs() : Date.now() + Math.max(remaining - SAFETY_MARGIN_MS, 10_000);
  return copyShard(services, input, { deadline });
}, connectingServices);
