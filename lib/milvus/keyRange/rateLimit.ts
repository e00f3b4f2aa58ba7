import { MigrationError, TransientError } from '../../errors';
import { backoffMs, sleep as defaultSleep } from '../backoff';
import { toMigrationError } from '../status';

/**
 * Rate limits inside the key-range engine (copy and sync): a read or write answered with RateLimit (merr 8 / ErrorCode 49)
 * or gRPC RESOURCE_EXHAUSTED is tried again after an exponential backoff with jitter, so a
 * throttled cluster slows the copy down instead of failing the step. After about two minutes of
 * refusals the copy gives up with a TransientError (the state machine retries the step later).
 */

export interface RateLimitPolicy {
  /** First backoff ceiling, ms. */
  baseMs: number;
  /** Largest backoff ceiling, ms. */
  maxMs: number;
  /** Give up once this much time was spent backing off, ms. */
  budgetMs: number;
  /** Waits `ms` (tests may shorten it; the schedule is what counts). */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_RATE_LIMIT_POLICY: RateLimitPolicy = { baseMs: 250, maxMs: 15_000, budgetMs: 120_000 };

export type RateLimitKind = 'rate-limit' | 'resource-exhausted';

/** Whether an error is a rate limit answer, and which kind. */
export function rateLimitKind(error: unknown): RateLimitKind | null {
  const e = error instanceof MigrationError ? error : toMigrationError(error, 'call');
  if (!(e instanceof TransientError)) return null;
  if (e.code === 'MILVUS_RATE_LIMITED') return 'rate-limit';
  if (e.code === 'MILVUS_RESOURCE_EXHAUSTED') return 'resource-exhausted';
  return null;
}

/**
 * The backoff state of one stream of calls (the reads of a shard, or its writes): each refusal
 * waits longer, and once `budgetMs` of waiting is spent without a success the next refusal
 * throws a TransientError. A success resets it.
 */
export class RateLimitBackoff {
  private attempt = 0;
  private waited = 0;

  constructor(
    private readonly what: string,
    private readonly policy: RateLimitPolicy = DEFAULT_RATE_LIMIT_POLICY,
    private readonly onLimited?: (kind: RateLimitKind, attempt: number, waitMs: number) => void,
  ) {}

  /** Rethrows what is not a rate limit; otherwise waits (or gives up) and returns its kind. */
  async absorb(error: unknown): Promise<RateLimitKind> {
    const kind = rateLimitKind(error);
    if (!kind) throw error;
    this.attempt += 1;
    const wait = backoffMs(this.policy.baseMs, this.policy.maxMs, this.attempt);
    if (this.waited + wait > this.policy.budgetMs) {
      throw new TransientError(
        'MILVUS_RATE_LIMITED',
        `${this.what}: still refused (${kind}) after ${this.attempt} tries and ${Math.round(this.waited / 1000)} s of backoff`,
        { cause: error },
      );
    }
    this.onLimited?.(kind, this.attempt, wait);
    await (this.policy.sleep ?? defaultSleep)(wait);
    this.waited += wait;
    return kind;
  }

  reset(): void {
    this.attempt = 0;
    this.waited = 0;
  }
}
