/**
 * Errors of the domain. The `name` of each class is what Step Functions sees as the error
 * (Retry and Catch match on it), so names are stable API.
 */
export class MigrationError extends Error {
  /** Stable code recorded on the job (JobError.code). */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
    this.code = code;
  }
}

/** Will not get better by retrying: bad credentials, a missing collection, a schema the target refuses. */
export class PermanentError extends MigrationError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PermanentError';
  }
}

/** Worth retrying with backoff: unavailable server, deadline exceeded, rate limit, write conflicts. */
export class TransientError extends MigrationError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'TransientError';
  }
}

/** The job was cancelled (or already ended) while a step was about to act on it. */
export class JobNotActiveError extends MigrationError {
  constructor(jobId: string, status: string) {
    super('JOB_NOT_ACTIVE', `job ${jobId} is ${status}; the step does nothing`);
    this.name = 'JobNotActiveError';
  }
}

export class JobNotFoundError extends MigrationError {
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', `no job with id ${jobId}`);
    this.name = 'JobNotFoundError';
  }
}

/** A conditional write lost: someone else changed the record first. */
export class ConflictError extends MigrationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

/** Names of errors the state machine retries. Everything else goes straight to RecordFailure. */
export const RETRYABLE_ERROR_NAMES = ['TransientError', 'ConflictError'] as const;
