/** A small client of the migration API, for the CLI commands that talk to `serve` or to the deployed API. */
export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  create(body: unknown) {
    return this.call('POST', '/migrations', body);
  }
  preflight(body: unknown) {
    return this.call('POST', '/migrations/preflight', body);
  }
  list() {
    return this.call('GET', '/migrations');
  }
  get(jobId: string) {
    return this.call('GET', `/migrations/${encodeURIComponent(jobId)}`);
  }
  events(jobId: string) {
    return this.call('GET', `/migrations/${encodeURIComponent(jobId)}/events`);
  }
  cancel(jobId: string) {
    return this.call('POST', `/migrations/${encodeURIComponent(jobId)}/cancel`);
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = this.baseUrl.replace(/\/+$/, '') + path;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, `cannot reach ${this.baseUrl}: ${(error as Error).cause ?? (error as Error).message}`);
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const answer = parsed as { message?: string; error?: { code?: string; message?: string } } | undefined;
      const message = answer?.error?.message ?? answer?.message ?? text;
      throw new ApiError(response.status, `${method} ${path} answered ${response.status}: ${message}`);
    }
    return parsed;
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}
