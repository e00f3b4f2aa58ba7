import type { RequestSigner } from './sigv4';

export interface ApiClientOptions {
  /** Signs every request (SigV4 for the deployed API); none for `serve`. */
  signer?: RequestSigner;
  /** How long one request may take before it is given up, in milliseconds. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

/** A page of a list answer. */
export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** A small client of the migration API, for the CLI commands that talk to `serve` or to the deployed API. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly signer?: RequestSigner;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(baseUrl: string, options: ApiClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new ApiError(0, `--api ${JSON.stringify(baseUrl)} is not a URL; give one such as http://127.0.0.1:8080 or https://<id>.execute-api.<region>.amazonaws.com/prod`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ApiError(0, `--api ${baseUrl}: only http and https URLs are supported`);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.signer = options.signer;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetch = options.fetch ?? fetch;
  }

  create(body: unknown, options: { idempotencyKey?: string } = {}) {
    return this.call('POST', '/migrations', { body, headers: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {} });
  }
  preflight(body: unknown) {
    return this.call('POST', '/migrations/preflight', { body });
  }
  list(query: { limit?: number; nextToken?: string } = {}) {
    return this.call('GET', '/migrations', { query }) as Promise<Page<unknown>>;
  }
  get(jobId: string) {
    return this.call('GET', `/migrations/${encodeURIComponent(jobId)}`);
  }
  events(jobId: string, query: { limit?: number; nextToken?: string } = {}) {
    return this.call('GET', `/migrations/${encodeURIComponent(jobId)}/events`, { query }) as Promise<Page<unknown>>;
  }
  /** A page of the job's collections, in key order. */
  collections(jobId: string, query: { limit?: number; nextToken?: string } = {}) {
    return this.call('GET', `/migrations/${encodeURIComponent(jobId)}/collections`, { query }) as Promise<Page<unknown>>;
  }
  /** Every event of a job, following nextToken. */
  async allEvents(jobId: string): Promise<Page<unknown>> {
    const items: unknown[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.events(jobId, { limit: 1000, nextToken });
      items.push(...(page.items ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return { items };
  }
  cancel(jobId: string) {
    return this.call('POST', `/migrations/${encodeURIComponent(jobId)}/cancel`);
  }
  /** The operator's confirmation that every writer to the source has stopped: the online job drains, cuts over and verifies. */
  stopSync(jobId: string) {
    return this.call('POST', `/migrations/${encodeURIComponent(jobId)}/stop-sync`, { body: { confirmWritesStopped: true } });
  }

  /** Continues a FAILED job from its checkpoints; `body` gives credentials again ({source?: {token}, target?: {token}}). */
  resume(jobId: string, body: unknown = {}) {
    return this.call('POST', `/migrations/${encodeURIComponent(jobId)}/resume`, { body });
  }

  private async call(method: string, path: string, options: { body?: unknown; query?: Query; headers?: Record<string, string> } = {}): Promise<unknown> {
    const url = new URL(this.baseUrl + path + queryString(options.query));
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = { accept: 'application/json', ...options.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    if (this.signer) headers = await this.signer({ method, url, headers, body });
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw new ApiError(0, `${method} ${path}: no answer from ${this.baseUrl} within ${Math.round(this.timeoutMs / 1000)} s`);
      }
      throw new ApiError(0, `cannot reach ${this.baseUrl}: ${describeNetworkError(error)}`);
    }
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      throw new ApiError(response.status, `${method} ${path} answered ${response.status}: ${errorMessage(parsed, text, response.statusText)}`, errorCode(parsed));
    }
    return parsed;
  }
}

export class ApiError extends Error {
  constructor(
    /** The HTTP status, 0 when there was no answer. */
    readonly status: number,
    message: string,
    /** The API's error code (`JOB_NOT_FOUND`, `CONFLICT`, ...) when it gave one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** RFC 3986 encoding, the form SigV4 signs, so the query sent is the query signed. */
function queryString(query: Query = {}): string {
  const pairs = Object.entries(query).filter((entry): entry is [string, string | number] => entry[1] !== undefined);
  if (pairs.length === 0) return '';
  const encode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `?${pairs.map(([key, value]) => `${encode(key)}=${encode(String(value))}`).join('&')}`;
}

/** The error message in the API's answer (`{error: {message}}`), or API Gateway's (`{message}`, `{Message}`), on one line. */
function errorMessage(parsed: unknown, text: string, statusText: string): string {
  const answer = (parsed ?? {}) as { message?: unknown; Message?: unknown; error?: { message?: unknown } };
  const candidates = [answer.error?.message, answer.message, answer.Message];
  const message = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '') ?? (text.trim() || statusText || 'no message');
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 500 ? `${line.slice(0, 500)}...` : line;
}

function errorCode(parsed: unknown): string | undefined {
  const code = (parsed as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `connect ECONNREFUSED 127.0.0.1:1`, `getaddrinfo ENOTFOUND example.invalid`: the cause under fetch's "fetch failed". */
function describeNetworkError(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause !== undefined && cause.message === 'fetch failed') cause = cause.cause;
  if (cause instanceof AggregateError && cause.errors.length > 0) {
    return [...new Set(cause.errors.map((e) => describeNetworkError(e)))].join('; ');
  }
  if (cause instanceof Error) {
    const code = (cause as { code?: string }).code;
    const message = cause.message || code || cause.name;
    return (code && !message.includes(code) ? `${code}: ${message}` : message).replace(/\s+/g, ' ');
  }
  return String(cause);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}
