import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { malformedJson, methodNotAllowed, payloadTooLarge, routeNotFound, toHttpError } from '../lib/api/errors';
import { buildServiceFromEnvironment } from '../lib/api/fromEnvironment';
import { openApiDocument } from '../lib/api/openapi';
import { API_RESOURCES, API_ROUTES, MAX_BODY_BYTES, NoQuery, matchResource, parseRequest, type ApiOperation } from '../lib/api/requests';
import type { MigrationService } from '../lib/api/service';
import { redactUrisIn } from '../lib/cluster';
import { apiLogger } from './observability';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

type Operation = (service: MigrationService, request: RoutedRequest) => Promise<APIGatewayProxyResult>;

interface RoutedRequest {
  id?: string;
  query: Record<string, string>;
  event: APIGatewayProxyEvent;
}

/** One line per route: the HTTP edge only picks the route and shapes the answer; the service does the rest. */
const OPERATIONS: Record<ApiOperation, Operation> = {
  createMigration: async (service, { event, query }) => {
    noQuery(query);
    const { job, replayed } = await service.createOrReplay(jsonBody(event), { idempotencyKey: header(event, 'Idempotency-Key') });
    return json(replayed ? 200 : 201, job, { Location: `/migrations/${encodeURIComponent(job.jobId)}` });
  },
  listMigrations: async (service, { query }) => json(200, await service.list(query)),
  preflightMigration: async (service, { event, query }) => (noQuery(query), json(200, await service.preflight(jsonBody(event)))),
  getMigration: async (service, { id, query }) => (noQuery(query), json(200, await service.get(id))),
  listMigrationEvents: async (service, { id, query }) => json(200, await service.events(id, query)),
  listMigrationCollections: async (service, { id, query }) => json(200, await service.collections(id, query)),
  cancelMigration: async (service, { id, query }) => (noQuery(query), json(200, await service.cancel(id))),
  stopMigrationSync: async (service, { id, event, query }) => (noQuery(query), json(200, await service.stopSync(id, jsonBody(event)))),
  resumeMigration: async (service, { id, event, query }) => (noQuery(query), json(200, await service.resume(id, jsonBody(event)))),
  getOpenApiDocument: async (_service, { query }) => (noQuery(query), json(200, openApiDocument())),
};

/**
 * The REST API (API Gateway proxy integration). `getService` supplies the domain service, so tests
 * and the local runtime give their own; Lambda uses the one built from the environment.
 */
export function createApiHandler(getService: () => MigrationService | Promise<MigrationService>): ApiHandler {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(bodySizeLimit(MAX_BODY_BYTES))
    .use(httpErrors())
    .handler(async (event) => {
      const { operation, id } = route(event);
      return OPERATIONS[operation](await getService(), { id, query: singleValues(event.queryStringParameters), event });
    });
}

let lambdaService: MigrationService | undefined;

/** The Lambda entry point: the service is built from the function's environment on first use and kept while the container is warm. */
export const handler = createApiHandler(() => (lambdaService ??= buildServiceFromEnvironment(process.env)));

function route(event: APIGatewayProxyEvent): { operation: ApiOperation; id?: string } {
  const method = (event.httpMethod ?? '').toUpperCase();
  // Explicit resources (as the stack defines them) come as templates; a {proxy+} setup only gives the path.
  const matched = API_RESOURCES.includes(event.resource)
    ? { resource: event.resource, pathParameters: singleValues(event.pathParameters) }
    : matchResource(event.path ?? '');
  if (!matched) throw routeNotFound(method, event.path ?? '');
  const candidates = API_ROUTES.filter((r) => r.resource === matched.resource);
  const found = candidates.find((r) => r.method === method);
  if (!found) throw methodNotAllowed(method, matched.resource, candidates.map((r) => r.method));
  return { operation: found.operation, id: matched.pathParameters.id };
}

/** Routes without query parameters refuse any, naming them. */
function noQuery(query: Record<string, string>): void {
  parseRequest(NoQuery, query, 'query');
}

/** A request header, whatever its case. */
function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const found = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return found?.[1] ?? undefined;
}

function jsonBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw malformedJson();
  }
}

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

function singleValues(values: Record<string, string | undefined> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Refuses bodies over the limit before anything parses them. */
function bodySizeLimit(limitBytes: number): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: function bodySizeLimitBefore({ event }) {
      if (!event.body) return;
      const bytes = event.isBase64Encoded ? Math.floor((event.body.length * 3) / 4) : Buffer.byteLength(event.body, 'utf8');
      if (bytes > limitBytes) throw payloadTooLarge(limitBytes);
    },
  };
}

/** Every error becomes a JSON answer; an unexpected one is logged and shown only as a generic 500. */
function httpErrors(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async function httpErrorsOnError(request) {
      const answer = toHttpError(request.error);
      if (!answer.expected) {
        const error = request.error;
        apiLogger.error('unexpected error in the API', {
          error: error instanceof Error ? { name: error.name, message: redactUrisIn(error.message), stack: redactUrisIn(error.stack ?? '') } : redactUrisIn(String(error)),
          method: request.event.httpMethod,
          resource: request.event.resource,
          requestId: request.context?.awsRequestId,
        });
      }
      request.response = json(answer.statusCode, answer.body, answer.headers);
    },
  };
}
