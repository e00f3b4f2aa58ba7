import { ConflictError, JobNotFoundError, MigrationError } from '../errors';
import type { ErrorView, FieldIssue } from './views';

/** One problem with a request, named by where it is: `source.uri`, `databases[0].name`, `limit`. */
export type { FieldIssue };

/** The request does not match its schema. Every issue names its field. */
export class ValidationError extends MigrationError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super('INVALID_REQUEST', issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** A problem of the HTTP exchange itself (route, method, body), with the status it answers. */
class HttpRequestError extends MigrationError {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.name = 'HttpRequestError';
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

export const routeNotFound = (method: string, path: string) => new HttpRequestError(404, 'ROUTE_NOT_FOUND', `no route for ${method} ${path}`);
export const methodNotAllowed = (method: string, resource: string, allowed: readonly string[]) =>
  new HttpRequestError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${resource}; use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') });
export const payloadTooLarge = (limitBytes: number) =>
  new HttpRequestError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limitBytes} bytes`);
export const malformedJson = () => new HttpRequestError(400, 'MALFORMED_JSON', 'the request body is not valid JSON');

/** The body of every error answer (lib/api/views.ts). */
type HttpErrorBody = ErrorView;

export interface HttpErrorResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: HttpErrorBody;
  /** False for a 500: the body then says nothing of the cause, which only goes to the log. */
  expected: boolean;
}

const INTERNAL: HttpErrorBody = { error: { code: 'INTERNAL', message: 'internal error; the service log has the details' } };

/** Chooses the HTTP answer for an error at the edge. Messages of unexpected errors are never shown. */
export function toHttpError(error: unknown): HttpErrorResponse {
  const answer = (statusCode: number, body: HttpErrorBody, headers: Record<string, string> = {}): HttpErrorResponse => ({
    statusCode,
    headers,
    body,
    expected: true,
  });
  if (error instanceof ValidationError) return answer(400, { error: { code: error.code, message: error.message, issues: error.issues } });
  if (error instanceof HttpRequestError) return answer(error.statusCode, { error: { code: error.code, message: error.message } }, error.headers);
  if (error instanceof JobNotFoundError) return answer(404, { error: { code: error.code, message: error.message } });
  if (error instanceof ConflictError) return answer(409, { error: { code: error.code, message: error.message } });
  if (error instanceof MigrationError && error.code === 'INVALID_NEXT_TOKEN') {
    const issues = [{ path: 'nextToken', message: error.message }];
    return answer(400, { error: { code: 'INVALID_REQUEST', message: `nextToken: ${error.message}`, issues } });
  }
  return { statusCode: 500, headers: {}, body: INTERNAL, expected: false };
}
