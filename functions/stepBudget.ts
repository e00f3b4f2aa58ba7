import type { StepBudget } from '../lib/workflow/steps';
import type { StepContext } from './stepHandler';

/**
 * How long a step that checkpoints may work in this invocation: on Lambda, the time left less a
 * margin for saving its checkpoint and closing connections (never under 10 s); in the local
 * runtime, which has no timeout, `localBudgetMs` from the environment variable named (tests
 * shorten it to make a step stop and resume).
 */
export function stepBudget(context: StepContext, { safetyMarginMs, localEnv, localDefaultMs }: { safetyMarginMs: number; localEnv: string; localDefaultMs: number }): StepBudget {
  const remaining = context.getRemainingTimeInMillis?.();
  const localBudgetMs = Number(process.env[localEnv] ?? localDefaultMs);
  return { deadline: remaining === undefined ? Date.now() + localBudgetMs : Date.now() + Math.max(remaining - safetyMarginMs, 10_000) };
}

/**
 * DrainChanges and VerifySync, whose comparison of every row checkpoints per shard and starts no
 * shard that would not end by the deadline (judged by the slowest so far): the margin covers the
 * checkpoint writes and closing connections, and the first shards' own estimate. Locally 10 minutes.
 */
export const COMPARISON_BUDGET = { safetyMarginMs: 120_000, localEnv: 'COMPARISON_BUDGET_MS', localDefaultMs: 10 * 60_000 };

/** CopyShard: the margin covers the checkpoint write, an event, the connections' close after the last batch. */
export const COPY_BUDGET = { safetyMarginMs: 60_000, localEnv: 'COPY_SHARD_BUDGET_MS', localDefaultMs: 5 * 60_000 };

/** SyncChanges: the margin covers recording the last cycle (or a comparison shard's checkpoint) and closing connections. */
export const SYNC_BUDGET = { safetyMarginMs: 90_000, localEnv: 'SYNC_CHANGES_BUDGET_MS', localDefaultMs: 60_000 };
