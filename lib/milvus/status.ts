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
// merr: not ready, unavailable, too many requests, internal error, rate limit, resource insufficient. An
// internal error is retried by the step (seen once: milvus-lite answered a resume's delete "internal
// error" under the fault proxy, which failed a whole job); one that persists still fails the job.
const TRANSIENT_CODES = new Set([1, 2, 4, 5, 8, 12]);
const TRANSIENT_ERROR_CODES = new Set(['RateLimit', 'NotReadyServe', 'NotReadyCoord', 'ServiceUnavailable']);
const COLLECTION_NOT_FOUND = 100;
const DATABASE_NOT_FOUND = 800;
// merr ErrPrivilegeNotAuthenticated, ErrPrivilegeNotPermitted.
const NOT_AUTHENTICATED = 1400;
const NOT_PERMITTED = 1401;

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

/**
 * A TLS handshake the client broke off because of the server's certificate: what grpc-js reports
 * (inside an UNAVAILABLE "No connection established. Last error: ...") from Node's TLS checks.
 * Trying again cannot help: the client needs the CA (or the right server name).
 */
const TLS_UNTRUSTED = /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate not trusted|invalid CA certificate|CERT_UNTRUSTED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT/i;
const TLS_NAME_MISMATCH = /does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i;
const TLS_CERTIFICATE = /certificate has expired|certificate is not yet valid|certificate signature failure|certificate revoked|unsupported certificate purpose|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/i;

/**
 * A server certificate the client refused: permanent (its `name` stays PermanentError, which the
 * state machine's Catch matches). `detail` is what TLS said, for messages that name the role.
 */
export class TlsCertificateError extends PermanentError {
  constructor(
    code: 'MILVUS_TLS_UNTRUSTED' | 'MILVUS_TLS_NAME_MISMATCH' | 'MILVUS_TLS_CERTIFICATE',
    readonly what: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    const advice =
      code === 'MILVUS_TLS_UNTRUSTED'
        ? `the server's certificate is not trusted (${detail}): give the CA that signed it (tls.caCert, --source-ca-cert / --target-ca-cert)`
        : code === 'MILVUS_TLS_NAME_MISMATCH'
          ? `the server's certificate is for another name (${detail}): connect by a name on the certificate, or set tls.serverName`
          : `the server's certificate was refused (${detail})`;
    super(code, `${what}: ${advice}`, options);
  }
}

/** The permanent error a refused server certificate means, if `text` reports one. */
function tlsCertificateError(text: string, what: string, cause?: unknown): TlsCertificateError | undefined {
  const code = TLS_UNTRUSTED.test(text) ? 'MILVUS_TLS_UNTRUSTED' : TLS_NAME_MISMATCH.test(text) ? 'MILVUS_TLS_NAME_MISMATCH' : TLS_CERTIFICATE.test(text) ? 'MILVUS_TLS_CERTIFICATE' : undefined;
  if (!code) return undefined;
  const detail = text.replace(/^.*Last error: (Error( \[[A-Z_]+\])?: )?/s, '').replace(/\.? ?Resolution note:.*$/s, '').trim() || text;
  return new TlsCertificateError(code, what, detail, { cause });
}

/** The domain error a failed status means. */
export function statusToError(status: MilvusStatus, what: string): MigrationError {
  const code = statusCode(status);
  const reason = status.reason || status.detail || String(status.error_code ?? 'unknown error');
  const message = `${what}: ${reason}`;
  // The SDK folds some transport failures (a refused certificate among them) into a status.
  const tls = tlsCertificateError(reason, what);
  if (tls) return tls;
  if (code === COLLECTION_NOT_FOUND || status.error_code === 'CollectionNotExists' || /collection not found|can ?not find collection/i.test(reason)) {
    return new PermanentError('COLLECTION_NOT_FOUND', message);
  }
  if (code === DATABASE_NOT_FOUND || /database not found/i.test(reason)) {
    return new PermanentError('DATABASE_NOT_FOUND', message);
  }
  if (code === NOT_AUTHENTICATED || /not authenticated|auth check failure|invalid token|incorrect (username|password)/i.test(reason)) {
    return new PermanentError('MILVUS_UNAUTHENTICATED', message);
  }
  if (code === NOT_PERMITTED || /permission denied|privilege not permitted/i.test(reason)) {
    return new PermanentError('MILVUS_PERMISSION_DENIED', message);
  }
  if (
    status.retriable === true ||
    TRANSIENT_CODES.has(code) ||
    TRANSIENT_ERROR_CODES.has(String(status.error_code)) ||
    /rate limit|too many requests|^(service )?internal error$/i.test(reason) ||
    // The SDK folds some transport failures into a status whose reason is the gRPC error.
    /\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNRESET|ECONNREFUSED)\b|connection dropped|call cancelled/i.test(reason)
  ) {
    const transientCode = code === 8 || status.error_code === 'RateLimit' ? 'MILVUS_RATE_LIMITED' : code === 5 || /internal error/i.test(reason) ? 'MILVUS_INTERNAL' : 'MILVUS_UNAVAILABLE';
    return new TransientError(transientCode, message);
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
  // Before the gRPC code: grpc-js reports a refused certificate as UNAVAILABLE, which is transient.
  const tls = tlsCertificateError(text, what, error);
  if (tls) return tls;
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
