import { ConflictError } from '../errors';
import { describeScope, type TargetLockScope } from './targetLocks';

/** Another job that has not ended writes the same target collection (or database). */
export class TargetLockedError extends ConflictError {
  readonly scope: TargetLockScope;
  readonly holderJobId: string;
  constructor(scope: TargetLockScope, holderJobId: string, options?: { cause?: unknown }) {
    super(`target ${describeScope(scope)} is being written by job ${holderJobId}; wait until it ends or cancel it`, options);
    this.name = 'TargetLockedError';
    this.scope = scope;
    this.holderJobId = holderJobId;
  }
}

/** What an idempotency key item holds: the job it created and a hash of the request body (never the body). */
export interface IdempotencyRecord {
  key: string;
  jobId: string;
  requestHash: string;
  /** Epoch seconds; DynamoDB's TTL removes the item after it. */
  expiresAt: number;
}

/** The key was claimed before, by the request whose record this carries. */
export class IdempotencyKeyTakenError extends ConflictError {
  readonly existing: IdempotencyRecord;
  constructor(existing: IdempotencyRecord, options?: { cause?: unknown }) {
    super(`Idempotency-Key ${existing.key} was already used for job ${existing.jobId}`, options);
    this.name = 'IdempotencyKeyTakenError';
    this.existing = existing;
  }
}
