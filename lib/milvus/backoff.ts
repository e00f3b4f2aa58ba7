/**
 * The one backoff of the Milvus layer: exponential with jitter, uniform in [c/2, c] with
 * c = min(maxMs, baseMs * 2^(attempt-1)). Used by the bounded retry of single calls
 * (gateway/calls.ts) and by the key-range engine's rate-limit backoff (rateLimit.ts).
 */
export function backoffMs(baseMs: number, maxMs: number, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));
