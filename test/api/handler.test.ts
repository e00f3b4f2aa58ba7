import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { createApiHandler, handler } from '../../functions/api';
import { buildServiceFromEnvironment } from '../../lib/api/fromEnvironment';
import type { MigrationService } from '../../lib/api/service';

/** The Lambda handler called as API Gateway calls it, with a stand-in service. */
function event(overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path: '/',
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}
const context = {} as Context;

function stubService() {
  return {
    get: vi.fn(async (id: unknown) => ({ jobId: id })),
    createOrReplay: vi.fn(async (body: unknown) => ({ job: { jobId: 'mig-new', echoed: body }, replayed: false })),
    list: vi.fn(async (query: unknown) => ({ items: [], query })),
  };
}

describe('api handler', () => {
  it('routes by resource template and path parameters as the stack defines them', async () => {
    const service = stubService();
    const api = createApiHandler(() => service as unknown as MigrationService);
    const result = await api(event({ resource: '/migrations/{id}', path: '/migrations/mig-7', pathParameters: { id: 'mig-7' } }), context);
    expect(result.statusCode).toBe(200);
    expect(service.get).toHaveBeenCalledWith('mig-7');
    expect(result.headers?.['Content-Type']).toMatch(/^application\/json/);
  });

  it('routes a {proxy+} event by its path', async () => {
    const service = stubService();
    const api = createApiHandler(async () => service as unknown as MigrationService);
    const result = await api(event({ path: '/migrations', queryStringParameters: { limit: '5' } }), context);
    expect(result.statusCode).toBe(200);
    expect(service.list).toHaveBeenCalledWith({ limit: '5' });
  });

  it('reads a base64 encoded body', async () => {
    const service = stubService();
    const api = createApiHandler(() => service as unknown as MigrationService);
    const body = Buffer.from(JSON.stringify({ type: 'online' })).toString('base64');
    const result = await api(event({ resource: '/migrations', path: '/migrations', httpMethod: 'POST', body, isBase64Encoded: true }), context);
    expect(result.statusCode).toBe(201);
    expect(service.createOrReplay).toHaveBeenCalledWith({ type: 'online' }, { idempotencyKey: undefined });
  });

  it('refuses a body over 1 MB before the service sees it', async () => {
    const service = stubService();
    const api = createApiHandler(() => service as unknown as MigrationService);
    const result = await api(event({ resource: '/migrations', path: '/migrations', httpMethod: 'POST', body: 'x'.repeat(1024 * 1024 + 1) }), context);
    expect(result.statusCode).toBe(413);
    expect(service.createOrReplay).not.toHaveBeenCalled();
  });

  it('answers 500 without detail when the environment is incomplete', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      vi.stubEnv('JOBS_TABLE', '');
      const result = await handler(event({ resource: '/migrations', path: '/migrations' }), context);
      expect(result.statusCode).toBe(500);
      expect(result.body).not.toContain('JOBS_TABLE');
      expect(errors).toHaveBeenCalled();
    } finally {
      vi.unstubAllEnvs();
      errors.mockRestore();
    }
  });
});

describe('buildServiceFromEnvironment', () => {
  it('names every missing or malformed variable', () => {
    expect(() => buildServiceFromEnvironment({ STATE_MACHINE_ARN: 'nope' })).toThrow(
      /JOBS_TABLE: is not set; STATE_MACHINE_ARN: STATE_MACHINE_ARN must be a state machine ARN/,
    );
  });

  it('builds a service from a complete environment', () => {
    const service = buildServiceFromEnvironment({
      JOBS_TABLE: 'jobs',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:migrate',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      AWS_REGION: 'us-east-1',
    });
    expect(typeof service.create).toBe('function');
  });
});
