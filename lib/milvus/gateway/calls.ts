import { type MigrationError, TransientError } from '../../errors';
import { backoffMs, sleep as defaultSleep } from '../backoff';
import { assertOk, isStatusOk, statusOf, statusToError, toMigrationError } from '../status';

/**
 * What one gateway call is, declared by the gateway method that makes it (never inferred from
 * its description): whether it may be sent again after a failure whose outcome is unknown.
 */
export interface Operation {
  /** For messages: "describe shop.items", "write 256 rows to shop.items". */
  what: string;
  /**
   * Sending it twice leaves the cluster as sending it once: reads, deletes by key or range,
   * upserts, drops, loads. Inserts and creates are not: an UNAVAILABLE after the server applied
   * an insert would duplicate rows; their retry is the state machine's retry of the step, which
   * resumes from its checkpoint.
   */
  idempotent: boolean;
  /**
   * A batch read or write of the key-range engine, whose rate limits (RateLimit, RESOURCE_EXHAUSTED)
   * the engine absorbs itself with its own backoff and batch halving: not retried here for those.
   */
  batch?: boolean;
}

/**
 * Bounded retry of single calls. A transient failure (UNAVAILABLE, DEADLINE_EXCEEDED, a dropped
 * connection, RateLimit, a server not ready) of an idempotent call is tried again after the
 * backoff of backoff.ts, a few times, so that a few percent of failing calls do not fail a step.
 * Calls that are not idempotent are never retried here. Permanent failures are never retried.
 */
export interface CallRetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** First backoff ceiling, ms. */
  baseMs: number;
  /** Largest backoff ceiling, ms. */
  maxMs: number;
  sleep?: (ms: number) => Promise<void>;
  /** Hears every retry (tests, logs). */
  onRetry?: (what: string, error: MigrationError, attempt: number, waitMs: number) => void;
}

const DEFAULT_CALL_RETRY_POLICY: CallRetryPolicy = { attempts: 5, baseMs: 100, maxMs: 2_000 };

let callRetryPolicy: CallRetryPolicy = DEFAULT_CALL_RETRY_POLICY;

/** Replaces the retry policy of single calls (tests); no argument restores the default. */
export function setCallRetryPolicy(policy?: Partial<CallRetryPolicy>): void {
  callRetryPolicy = { ...DEFAULT_CALL_RETRY_POLICY, ...(policy ?? {}) };
}

/** Whether this failure of this call is worth another try here. */
function retriable(op: Operation, error: MigrationError): boolean {
  if (!(error instanceof TransientError)) return false;
  if (op.batch && (error.code === 'MILVUS_RATE_LIMITED' || error.code === 'MILVUS_RESOURCE_EXHAUSTED')) return false;
  return true;
}

/** The transient error a reply's status carries, if any. */
function transientStatusError(reply: unknown, what: string): MigrationError | undefined {
  const status = statusOf(reply);
  if (!status || isStatusOk(status)) return undefined;
  const error = statusToError(status, what);
  return error instanceof TransientError ? error : undefined;
}

/**
 * Runs one call, mapping what it throws to a domain error; the reply's status is the caller's to
 * check. An idempotent call is retried on transient failures, thrown or in the reply's status
 * (after the last try a failed reply is returned as is, for the caller to check).
 */
export async function call<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
  const policy = callRetryPolicy;
  for (let attempt = 1; ; attempt++) {
    let failure: MigrationError;
    try {
      const reply = await fn();
      const inStatus = op.idempotent ? transientStatusError(reply, op.what) : undefined;
      if (!inStatus || !retriable(op, inStatus) || attempt >= policy.attempts) return reply;
      failure = inStatus;
    } catch (error) {
      failure = toMigrationError(error, op.what);
      // The SDK itself throws (a TypeError) on a reply a fault cut short: worth the same bounded
      // retries for an idempotent call; if it persists it stays permanent (UNIMPLEMENTED looks alike).
      const worthRetry = retriable(op, failure) || failure.code === 'MILVUS_CLIENT_ERROR';
      if (!op.idempotent || !worthRetry || attempt >= policy.attempts) throw failure;
    }
    const wait = backoffMs(policy.baseMs, policy.maxMs, attempt);
    policy.onRetry?.(op.what, failure, attempt, wait);
    await (policy.sleep ?? defaultSleep)(wait);
  }
}

/** Runs one call and checks its reply's status (retrying as `call` does). */
export async function checkedCall<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
  const reply = await call(op, fn);
  assertOk(reply, op.what);
  return reply;
}

/** An idempotent read. */
export const read = (what: string, batch = false): Operation => ({ what, idempotent: true, ...(batch ? { batch } : {}) });
/** A change that leaves the same state when sent twice (delete, upsert, drop, load, grant). */
export const idempotentWrite = (what: string, batch = false): Operation => ({ what, idempotent: true, ...(batch ? { batch } : {}) });
/** A change that must not be sent twice (insert, create). */
export const onceOnly = (what: string, batch = false): Operation => ({ what, idempotent: false, ...(batch ? { batch } : {}) });
