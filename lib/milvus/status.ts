import { MigrationError, PermanentError, TransientError } from '../errors';

/**
 * Turning Milvus answers into domain errors. Two shapes of failure exist:
 * - a reply whose status says failure: servers set either `error_code` (legacy enum) or `code`
 *   (merr number), milvus-lite sets `error_code: 'Success'` with a non-zero `code`;
 * - a thrown gRPC error (`code` is a grpc status number, `details` the message).
 * A gRPC UNIMPLEMENTED reply comes back from the SDK as `{}`: callers check the fields they need.
 */

export interface MilvusStatus {
  error_code?: string | number;
  code?: number | string;
  reason?: string;
  detail?: string;
  retriable?: boolean;
}

// merr codes (pkg/util/merr): retriable service conditions.
const TRANSIENT_CODES = new Set([1, 2, 4, 8, 12]); // not ready, unavailable, too many requests, rate limit, resource insufficient
const TRANSIENT_ERROR_CODES = new Set(['RateLimit', 'NotReadyServe', 'NotReadyCoord', 'ServiceUnavailable']);
const COLLECTION_NOT_FOUND = 100;
const DATABASE_NOT_FOUND = 800;

/** The status inside a reply (or the reply itself when it is a bare status); undefined for `{}`. */
export function statusOf(reply: unknown): MilvusStatus | undefined {
  if (!reply || typeof reply !== 'object') return undefined;
  const r = reply as { status?: MilvusStatus } & MilvusStatus;
  if (r.status && typeof r.status === 'object') return r.status;
  if ('error_code' in r || 'code' in r) return r;
  return undefined;
}

export function isStatusOk(status: MilvusStatus): boolean {
  const code = Number(status.code ?? 0);
  const errorCode = status.error_code;
  return code === 0 && (errorCode === undefined || errorCode === 'Success' || errorCode === 0 || errorCode === '0');
}

export function statusCode(status: MilvusStatus): number {
  return Number(status.code ?? 0);
}

/** The domain error a failed status means. */
export function statusToError(status: MilvusStatus, what: string): MigrationError {
  const code = statusCode(status);
  const reason = status.reason || status.detail || String(status.error_code ?? 'unknown error');
  const message = `${what}: ${reason}`;
  if (code === COLLECTION_NOT_FOUND || status.error_code === 'CollectionNotExists' || /collection not found|can ?not find collection/i.test(reason)) {
    return new PermanentError('COLLECTION_NOT_FOUND', message);
  }
  if (code === DATABASE_NOT_FOUND || /database not found/i.test(reason)) {
    return new PermanentError('DATABASE_NOT_FOUND', message);
  }
  if (
    status.retriable === true ||
    TRANSIENT_CODES.has(code) ||
    TRANSIENT_ERROR_CODES.has(String(status.error_code)) ||
    /rate limit|too many requests/i.test(reason)
  ) {
    return new TransientError(code === 8 || status.error_code === 'RateLimit' ? 'MILVUS_RATE_LIMITED' : 'MILVUS_UNAVAILABLE', message);
  }
  return new PermanentError('MILVUS_REFUSED', message);
}

/** Throws the domain error for a failed reply, and a PermanentError for an empty `{}` reply (UNIMPLEMENTED). */
export function assertOk(reply: unknown, what: string): void {
  const status = statusOf(reply);
  if (!status) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the server does not implement this call`);
  if (!isStatusOk(status)) throw statusToError(status, what);
}

// gRPC status numbers (@grpc/grpc-js `status`).
const GRPC_TRANSIENT: Record<number, string> = {
  1: 'MILVUS_CANCELLED',
  4: 'MILVUS_TIMEOUT',
  8: 'MILVUS_RESOURCE_EXHAUSTED',
  10: 'MILVUS_ABORTED',
  13: 'MILVUS_INTERNAL',
  14: 'MILVUS_UNAVAILABLE',
};
const GRPC_PERMANENT: Record<number, string> = {
  3: 'MILVUS_INVALID_ARGUMENT',
  5: 'MILVUS_NOT_FOUND',
  7: 'MILVUS_PERMISSION_DENIED',
  12: 'MILVUS_UNIMPLEMENTED',
  16: 'MILVUS_UNAUTHENTICATED',
};

/** Maps anything an SDK call threw to a domain error (domain errors pass through). */
export function toMigrationError(error: unknown, what: string): MigrationError {
  if (error instanceof MigrationError) return error;
  const e = error as { code?: unknown; details?: unknown; message?: unknown };
  const text = String(e?.details || e?.message || error);
  if (typeof e?.code === 'number' && typeof e.details === 'string') {
    const transient = GRPC_TRANSIENT[e.code];
    if (transient) return new TransientError(transient, `${what}: ${text}`, { cause: error });
    return new PermanentError(GRPC_PERMANENT[e.code] ?? 'MILVUS_ERROR', `${what}: ${text}`, { cause: error });
  }
  // A reply the SDK threw as is (it does so for some failed statuses).
  const status = statusOf(error);
  if (status && !isStatusOk(status)) return statusToError(status, what);
  return new PermanentError('MILVUS_CLIENT_ERROR', `${what}: ${text}`, { cause: error });
}

/** Runs one SDK call, mapping what it throws; the reply's status is checked by the caller. */
export async function milvusCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toMigrationError(error, what);
  }
}

/** Runs one SDK call and checks its reply's status. */
export async function checkedCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const reply = await milvusCall(what, fn);
  assertOk(reply, what);
  return reply;
}
