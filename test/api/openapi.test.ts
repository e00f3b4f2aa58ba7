import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiHandler } from '../../functions/api';
import { startApiServer, type ApiServer } from '../../functions/localHttpServer';
import { createMigrationModelSchema, REQUEST_MODEL_NAMES, resumeMigrationModelSchema, stopSyncModelSchema } from '../../infra/apiModels';
import { synthesizeTemplate, type CfnTemplate } from '../../infra/synth';
import { toHttpError, ValidationError } from '../../lib/api/errors';
import { CREDENTIAL_FIELDS, createMigrationRequestSchema, draft4JsonSchema, openApiDocument, stopSyncRequestSchema, type JsonSchema } from '../../lib/api/openapi';
import { API_ROUTES, CreateMigrationBody, ListMigrationsQuery, ResumeMigrationBody, StopSyncBody } from '../../lib/api/requests';
import { toJobView, type MigrationService } from '../../lib/api/service';
import { JobOptions, type CollectionProgress, type JobRecord } from '../../lib/jobs/model';
import { summarizeCollections } from '../../lib/jobs/progress';
import type { PreflightReport } from '../../lib/migration/inspect';

/**
 * The OpenAPI document is generated from API_ROUTES and the zod schemas: every route is in it, its
 * request schemas accept and refuse what zod accepts and refuses (JSON Schema validated by ajv),
 * its response schemas describe what the service answers, it is what GET /openapi.json serves,
 * and the API Gateway models of the stack are its request schemas in draft 4.
 */

const doc = openApiDocument() as any;

/** ajv for OpenAPI 3.1's dialect (2020-12), strict: an unknown keyword is an error. */
function ajv2020() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

/**
 * ajv has no draft 4 mode; draft 7 reads every keyword of our draft 4 schemas the same way except
 * the boolean exclusiveMinimum/Maximum, which this turns back into draft 7's numeric form.
 */
function draft4AsDraft7(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(draft4AsDraft7);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  const source = schema as Record<string, unknown>;
  for (const [key, value] of Object.entries(source)) {
    if (key === '$schema') out.$schema = 'http://json-schema.org/draft-07/schema#';
    else if ((key === 'exclusiveMinimum' || key === 'exclusiveMaximum') && value === true) {
      const bound = key === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      out[key] = source[bound];
    } else if ((key === 'minimum' && source.exclusiveMinimum === true) || (key === 'maximum' && source.exclusiveMaximum === true)) continue;
    else out[key] = draft4AsDraft7(value);
  }
  return out;
}

const draft7 = () => new Ajv({ strict: true, allErrors: true });

/** Requests the service accepts. */
const VALID: Record<string, unknown> = {
  minimal: { type: 'offline', source: { uri: '10.0.0.5:19530' }, target: { uri: '10.0.0.9:19530' } },
  readme: {
    type: 'offline',
    source: { uri: '10.0.0.5:19530', token: 'root:Milvus' },
    target: { uri: '10.0.0.9:19530', username: 'admin', password: 'secret' },
    databases: [{ name: 'default', collections: [{ name: 'books' }, { name: 'films', targetName: 'films_v2' }] }],
    options: { indexPolicy: 'preserve', shardConcurrency: 4 },
  },
  mapping: {
    type: 'offline',
    source: { uri: 'https://in03-x.serverless.aws-eu-central-1.cloud.zilliz.com', token: 'key' },
    target: { uri: 'http://[::1]:19530' },
    databases: [
      {
        name: '_db1',
        targetName: 'db2',
        collections: [
          {
            name: 'books',
            mapping: {
              description: 'moved',
              autoId: false,
              fields: { title: { nullable: true, defaultValue: 'untitled' }, year: { defaultValue: null }, rank: { defaultValue: 1.5 }, flag: { defaultValue: true } },
              partitionKey: { field: 'genre', numPartitions: 16 },
              dynamicField: false,
              shardsNum: 2,
            },
          },
        ],
      },
    ],
    options: { rowsPerShard: 1, batchBytes: 65_536, existingTarget: 'append', loadAfterMigration: true, includeRbac: true },
  },
  secretArn: {
    type: 'offline',
    source: { uri: 'source:19530', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:milvus-source-AbCdEf' },
    target: { uri: 'target:19530', secretArn: 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:t' },
  },
  online: {
    type: 'online',
    source: { uri: 'a:1' },
    target: { uri: 'b:2' },
    databases: [{ name: 'one' }, { name: 'two', targetName: 'three' }],
    options: { lagAlertSeconds: 0.5, syncTimeoutSeconds: 60, lagPollSeconds: 300 },
  },
};

const base = VALID.minimal as Record<string, any>;
const withOptions = (options: unknown) => ({ ...base, options });
const withCollection = (collection: unknown) => ({ ...base, databases: [{ name: 'default', collections: [collection] }] });
const withMapping = (mapping: unknown) => withCollection({ name: 'books', mapping });

/** Requests both the JSON Schema and zod refuse. */
const INVALID: Record<string, unknown> = {
  'not an object': [],
  'a string': 'offline',
  null: null,
  empty: {},
  'type missing': { source: base.source, target: base.target },
  'type unknown': { ...base, type: 'hybrid' },
  'type not a string': { ...base, type: 5 },
  'unknown top-level field': { ...base, extra: 1 },
  'source missing': { type: 'offline', target: base.target },
  'source.uri missing': { ...base, source: { token: 'x' } },
  'source.uri empty': { ...base, source: { uri: '' } },
  'source.uri too long': { ...base, source: { uri: `h${'o'.repeat(2048)}:1` } },
  'source.token empty': { ...base, source: { uri: 'a:1', token: '' } },
  'source.password not a string': { ...base, source: { uri: 'a:1', username: 'u', password: 7 } },
  'source unknown field': { ...base, source: { uri: 'a:1', port: 19530 } },
  'target.secretArn not an ARN': { ...base, target: { uri: 'b:1', secretArn: 'milvus-target' } },
  'databases empty': { ...base, databases: [] },
  'database name with a dash': { ...base, databases: [{ name: 'my-db' }] },
  'database name starting with a digit': { ...base, databases: [{ name: '1db' }] },
  'database unknown field': { ...base, databases: [{ name: 'db', tables: [] }] },
  'collections empty': { ...base, databases: [{ name: 'db', collections: [] }] },
  'collection targetName with a space': withCollection({ name: 'books', targetName: 'my books' }),
  'collection name too long': withCollection({ name: `b${'o'.repeat(255)}` }),
  'mapping unknown field': withMapping({ rename: 'x' }),
  'mapping field name with a dash': withMapping({ fields: { 'bad-name': { nullable: true } } }),
  'mapping field nullable not a boolean': withMapping({ fields: { title: { nullable: 'yes' } } }),
  'mapping field defaultValue an object': withMapping({ fields: { title: { defaultValue: { a: 1 } } } }),
  'mapping field unknown key': withMapping({ fields: { title: { type: 'VarChar' } } }),
  'partitionKey without field': withMapping({ partitionKey: { numPartitions: 4 } }),
  'partitionKey numPartitions 0': withMapping({ partitionKey: { field: 'genre', numPartitions: 0 } }),
  'shardsNum 17': withMapping({ shardsNum: 17 }),
  'options unknown field': withOptions({ fast: true }),
  'indexPolicy unknown': withOptions({ indexPolicy: 'fast' }),
  'existingTarget unknown': withOptions({ existingTarget: 'overwrite' }),
  'rowsPerShard 0 (exclusive minimum)': withOptions({ rowsPerShard: 0 }),
  'rowsPerShard not whole': withOptions({ rowsPerShard: 1.5 }),
  'rowsPerShard too large': withOptions({ rowsPerShard: 100_000_001 }),
  'batchBytes under 64 KiB': withOptions({ batchBytes: 1024 }),
  'shardConcurrency 41': withOptions({ shardConcurrency: 41 }),
  'lagAlertSeconds 0 (exclusive minimum)': withOptions({ lagAlertSeconds: 0 }),
  'syncTimeoutSeconds 59': withOptions({ syncTimeoutSeconds: 59 }),
  'loadAfterMigration a string': withOptions({ loadAfterMigration: 'true' }),
};

/** Refused by the service only: rules JSON Schema cannot state (refinements), so the schema lets them through. */
const SERVICE_ONLY: Record<string, unknown> = {
  'uri not host:port': { ...base, source: { uri: 'not a uri!' } },
  'port over 65535': { ...base, source: { uri: 'host:70000' } },
  'token and password': { ...base, source: { uri: 'a:1', token: 't', username: 'u', password: 'p' } },
  'username without password': { ...base, source: { uri: 'a:1', username: 'u' } },
  'secretArn and token': { ...base, source: { uri: 'a:1', token: 't', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:s' } },
  'offline with two databases': { ...base, databases: [{ name: 'a' }, { name: 'b' }] },
  'a collection named twice': { ...base, databases: [{ name: 'db', collections: [{ name: 'books' }, { name: 'books' }] }] },
  'a nullable partition key': withMapping({ fields: { genre: { nullable: true } }, partitionKey: { field: 'genre' } }),
};

const zodAccepts = (body: unknown) => CreateMigrationBody.safeParse(body).success;

describe('OpenAPI document', () => {
  it('describes every route of API_ROUTES, and only those, by its operation id', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const route of API_ROUTES) {
      const operation = doc.paths[route.resource]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.resource}`).toBeDefined();
      expect(operation.operationId).toBe(route.operation);
      expect(operation.responses['500']).toBeDefined();
    }
    const documented = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.resource}`).sort());
  });

  it('gives each route its parameters, body and responses', () => {
    const create = doc.paths['/migrations'].post;
    expect(create.requestBody).toMatchObject({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateMigrationRequest' } } } });
    expect(create.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
    expect(Object.keys(create.responses).sort()).toEqual(['200', '201', '400', '403', '409', '413', '500']);
    expect(doc.paths['/migrations/preflight'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/CreateMigrationRequest');
    expect(doc.paths['/migrations/{id}/stop-sync'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/StopSyncRequest');
    const resume = doc.paths['/migrations/{id}/resume'].post;
    expect(resume.requestBody).toMatchObject({ required: false, content: { 'application/json': { schema: { $ref: '#/components/schemas/ResumeMigrationRequest' } } } });
    expect(Object.keys(resume.responses).sort()).toEqual(['200', '400', '403', '404', '409', '413', '500']);
    for (const path of ['/migrations/{id}', '/migrations/{id}/events', '/migrations/{id}/collections', '/migrations/{id}/cancel', '/migrations/{id}/stop-sync', '/migrations/{id}/resume']) {
      const operation = Object.values<any>(doc.paths[path])[0];
      expect(operation.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: expect.any(String) } });
      expect(operation.responses['404']).toEqual({ $ref: '#/components/responses/NotFound' });
    }
    const list = doc.paths['/migrations'].get.parameters;
    expect(list.map((p: any) => p.name)).toEqual(['limit', 'nextToken']);
    expect(list[0]).toMatchObject({ in: 'query', required: false, description: 'A whole number from 1 to 100', schema: { type: 'string', pattern: '^\\d+$' } });
    expect(doc.paths['/migrations/{id}/events'].get.parameters[1].description).toBe('A whole number from 1 to 1000');
    const collections = doc.paths['/migrations/{id}/collections'].get;
    expect(collections.parameters.map((p: any) => p.name)).toEqual(['id', 'limit', 'nextToken']);
    expect(collections.parameters[1].description).toBe('A whole number from 1 to 1000');
    expect(collections.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/CollectionPage');
    // The parameter's schema is zod's text check; the range applies to the parsed number (its description).
    const limit = ajv2020().compile(list[0].schema);
    for (const value of ['1', '25', '100']) expect(limit(value) && ListMigrationsQuery.safeParse({ limit: value }).success, value).toBe(true);
    for (const value of ['x', '-1', '1.5', '']) expect(limit(value) || ListMigrationsQuery.safeParse({ limit: value }).success, value).toBe(false);
    expect(doc.components.securitySchemes.sigv4).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization', 'x-amazon-apigateway-authtype': 'awsSigv4' });
  });

  it('resolves every $ref and compiles every schema under ajv strict mode', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map(([, ref]) => ref);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const path = ref.replace(/^#\//, '').split('/');
      expect(path.reduce((node: any, key) => node?.[key], doc), ref).toBeDefined();
    }
    const ajv = ajv2020();
    for (const [name, schema] of Object.entries<JsonSchema>(doc.components.schemas)) expect(() => ajv.compile(schema), name).not.toThrow();
  });

  it('says the credential fields are write-only, and no response schema has one', () => {
    const request = doc.components.schemas.CreateMigrationRequest;
    for (const role of ['source', 'target']) {
      const fields = request.properties[role].properties;
      expect(Object.keys(fields).sort()).toEqual(['uri', ...Object.keys(CREDENTIAL_FIELDS)].sort());
      for (const field of ['token', 'username', 'password', 'secretArn']) {
        expect(fields[field].writeOnly, `${role}.${field}`).toBe(true);
        expect(fields[field].description).toMatch(/Write-only/);
      }
      expect(fields.uri.description).toMatch(/user:password@/);
    }
    const resume = doc.components.schemas.ResumeMigrationRequest;
    for (const role of ['source', 'target']) {
      const fields = resume.properties[role].properties;
      // A resumed job keeps its clusters: credentials only, every one write-only.
      expect(Object.keys(fields).sort()).toEqual(Object.keys(CREDENTIAL_FIELDS).sort());
      for (const field of Object.keys(CREDENTIAL_FIELDS)) expect(fields[field].writeOnly, `resume ${role}.${field}`).toBe(true);
    }
    expect(doc.info.description).toMatch(/write-only/);
    const responses = JSON.stringify([doc.components.schemas.Job, doc.components.schemas.JobPage, doc.components.schemas.PreflightReport]);
    for (const secret of ['"token"', '"password"', '"username"', '"secretArn"', '"credentialsRef"']) expect(responses).not.toContain(secret);
  });

  it('accepts and refuses POST /migrations bodies as the zod schema does; the API Gateway model (draft 4) too', () => {
    const openApi = ajv2020().compile(doc.components.schemas.CreateMigrationRequest);
    const model = draft7().compile(draft4AsDraft7(createMigrationModelSchema()) as object);
    for (const [name, body] of Object.entries(VALID)) {
      expect(zodAccepts(body), name).toBe(true);
      expect(openApi(body), `${name}: ${JSON.stringify(openApi.errors)}`).toBe(true);
      expect(model(body), `${name} (model): ${JSON.stringify(model.errors)}`).toBe(true);
    }
    for (const [name, body] of Object.entries(INVALID)) {
      expect(zodAccepts(body), name).toBe(false);
      expect(openApi(body), name).toBe(false);
      expect(model(body), `${name} (model)`).toBe(false);
    }
    // Never stricter than the service: what only the service refuses passes the schemas.
    for (const [name, body] of Object.entries(SERVICE_ONLY)) {
      expect(zodAccepts(body), name).toBe(false);
      expect(openApi(body), name).toBe(true);
      expect(model(body), `${name} (model)`).toBe(true);
    }
  });

  it('states the structure of the zod schema: required fields, enums, patterns, bounds', () => {
    const schema = createMigrationRequestSchema() as any;
    expect(schema.required).toEqual(['type', 'source', 'target']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.type.enum).toEqual(['offline', 'online']);
    const database = schema.properties.databases.items;
    expect(database.properties.name.pattern).toBe('^[A-Za-z_][A-Za-z0-9_]{0,254}$');
    const options = schema.properties.options.properties;
    expect(options.indexPolicy.enum).toEqual(['autoindex', 'preserve']);
    expect(options.rowsPerShard).toMatchObject({ type: 'integer', exclusiveMinimum: 0, maximum: 100_000_000 });
    expect(options.batchBytes).toMatchObject({ minimum: 65_536, maximum: 64 * 1024 * 1024 });
    const stopSync = ajv2020().compile(stopSyncRequestSchema());
    for (const body of [{ confirmWritesStopped: true }, { confirmWritesStopped: false }, {}, { confirmWritesStopped: true, extra: 1 }, { confirmWritesStopped: 'true' }]) {
      expect(stopSync(body), JSON.stringify(body)).toBe(StopSyncBody.safeParse(body).success);
    }
  });

  it('accepts and refuses POST /migrations/{id}/resume bodies as the zod schema does; the API Gateway model (draft 4) too', () => {
    const openApi = ajv2020().compile(doc.components.schemas.ResumeMigrationRequest);
    const model = draft7().compile(draft4AsDraft7(resumeMigrationModelSchema()) as object);
    const bodies: unknown[] = [
      {},
      { source: { token: 'a' } },
      { source: { token: 'a' }, target: { username: 'u', password: 'p', tls: { serverName: 'milvus.example' } } },
      { target: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' } },
      { source: { uri: 'elsewhere:19530', token: 'a' } },
      { source: { token: '' } },
      { target: { token: 7 } },
      { options: {} },
      { source: { token: 'a', tls: { caCert: 'x', extra: 1 } } },
      { target: { secretArn: 'not-an-arn' } },
    ];
    let refused = 0;
    for (const body of bodies) {
      const accepted = ResumeMigrationBody.safeParse(body).success;
      if (!accepted) refused += 1;
      expect(openApi(body), JSON.stringify(body)).toBe(accepted);
      expect(model(body), `${JSON.stringify(body)} (model)`).toBe(accepted);
    }
    expect(refused).toBe(6);
  });

  it('describes the job, page, preflight and error bodies the service answers', () => {
    const ajv = ajv2020();
    const check = (schema: string, value: unknown) => {
      const validate = ajv.compile(doc.components.schemas[schema]);
      expect(validate(value), `${schema}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    const now = '2026-01-02T03:04:05.678Z';
    const offline: JobRecord = {
      schemaVersion: 1,
      jobId: 'mig-01',
      type: 'offline',
      status: 'FAILED',
      phase: 'DONE',
      source: { uri: 'http://user:pw@source:19530', credentialsRef: 'ref-s' },
      target: { uri: 'target:19530', credentialsRef: 'ref-t' },
      databases: [{ name: 'default' }],
      options: JobOptions.parse({}),
      warnings: ['a warning'],
      error: { code: 'VERIFICATION_MISMATCH', reason: 'counts differ', step: 'Verify' },
      verification: { at: now, sourceCollections: 1, targetCollections: 1, collections: [{ key: 'default.books', sourceRows: 10, targetRows: 9, match: false }], passed: false },
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:m:mig-01',
      createdAt: now,
      updatedAt: now,
      startedAt: now,
      endedAt: now,
      version: 3,
    };
    const online: JobRecord = {
      ...offline,
      jobId: 'mig-02',
      type: 'online',
      status: 'SUCCESSFUL',
      error: undefined,
      sync: {
        strategy: 'scan',
        startedAt: now,
        deadlineAt: now,
        syncedThrough: now,
        cycles: 3,
        lastCycle: { startedAt: now, endedAt: now, rowsCompared: 10, inserted: 1, updated: 2, deleted: 3 },
        inserted: 1,
        updated: 2,
        deleted: 3,
        lagAlertSentAt: now,
        digestEpoch: 'e1',
      },
      writesStoppedAt: now,
    };
    delete online.error;
    const books: CollectionProgress = { key: 'default.books', sourceDb: 'default', sourceName: 'books', targetDb: 'default', targetName: 'books', status: 'VERIFIED', rowsTotal: 10, rowsCopied: 10, shardCount: 1, attempt: 1 };
    const summary = summarizeCollections([books]);
    for (const [record, collections] of [[offline, summary], [online, summary], [{ ...offline, warnings: [], verification: undefined, startedAt: undefined, endedAt: undefined }, summarizeCollections([])]] as const) {
      const view = JSON.parse(JSON.stringify(toJobView(record as JobRecord, collections, new Date(now))));
      check('Job', view);
    }
    check('JobPage', { items: [JSON.parse(JSON.stringify(toJobView(offline, summary)))], nextToken: 'abc' });
    check('CollectionPage', { items: [{ key: 'default.books', sourceDb: 'default', sourceName: 'books', targetDb: 'default', targetName: 'books', status: 'VERIFIED', rowsTotal: 10, rowsCopied: 10, percent: 100 }], nextToken: 'abc' });
    check('EventPage', { items: [{ jobId: 'mig-01', at: now, type: 'JobCreated', message: 'created', details: { type: 'offline' } }] });
    const report: PreflightReport = {
      ok: false,
      source: { uri: 'source:19530', reachable: true, version: '2.5.4' },
      target: { uri: 'target:19530', reachable: false, reason: 'TARGET_UNREACHABLE: refused', databasesToCreate: ['db2'] },
      collections: [{ source: 'default.books', target: 'db2.books', action: 'create', rows: 10, estimatedBytes: 4096, warnings: [] }],
      problems: [{ code: 'TARGET_UNREACHABLE', message: 'cannot reach the target cluster' }],
      estimate: { rows: 10, estimatedBytes: 4096, shards: 1, batches: 1, durationSeconds: 5, costUsd: { lambda: 0.1, stepFunctions: 0.01, dynamoDb: 0.001, total: 0.111 }, assumptions: ['us-east-1 prices'] },
    };
    check('PreflightReport', report);
    check('Error', toHttpError(new ValidationError([{ path: 'source.uri', message: 'uri must be host:port' }])).body);
    check('Error', toHttpError(new Error('boom')).body);
  });
});

describe('GET /openapi.json', () => {
  let server: ApiServer;
  beforeAll(async () => {
    server = await startApiServer({ handler: createApiHandler(() => ({}) as MigrationService), port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the generated document over the local HTTP server', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('refuses a query parameter and another method, as every route does', async () => {
    const query = await fetch(`${server.url}/openapi.json?format=yaml`);
    expect(query.status).toBe(400);
    expect(((await query.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
    const post = await fetch(`${server.url}/openapi.json`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});

describe('API Gateway request models', () => {
  let template: CfnTemplate;
  beforeAll(() => {
    template = synthesizeTemplate();
  });

  const resources = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const pathOf = (logicalId: string): string => {
    const resource = template.Resources[logicalId];
    if (!resource || resource.Type !== 'AWS::ApiGateway::Resource') return '';
    const parent = resource.Properties!.ParentId;
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${resource.Properties!.PathPart}`;
  };
  const method = (httpMethod: string, path: string) =>
    resources('AWS::ApiGateway::Method').find(([, m]) => m.Properties!.HttpMethod === httpMethod && pathOf(m.Properties!.ResourceId.Ref) === path)?.[1];
  const model = (name: string) => resources('AWS::ApiGateway::Model').find(([, m]) => m.Properties!.Name === name)!;

  it('is the OpenAPI request schema converted to draft 4, for POST /migrations and preflight', () => {
    const [modelId, create] = model(REQUEST_MODEL_NAMES.createMigration);
    expect(create.Properties!.ContentType).toBe('application/json');
    expect(create.Properties!.Schema).toEqual(createMigrationModelSchema());
    const openApiSchema = doc.components.schemas.CreateMigrationRequest;
    expect(Object.keys(create.Properties!.Schema.properties)).toEqual(Object.keys(openApiSchema.properties));
    expect(create.Properties!.Schema.required).toEqual(openApiSchema.required);
    expect(create.Properties!.Schema.description).toEqual(openApiSchema.description);
    expect(create.Properties!.Schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
    for (const path of ['/migrations', '/migrations/preflight']) {
      const post = method('POST', path)!;
      expect(post.Properties!.RequestModels, path).toEqual({ 'application/json': { Ref: modelId } });
      const validator = template.Resources[post.Properties!.RequestValidatorId.Ref]!;
      expect(validator.Type).toBe('AWS::ApiGateway::RequestValidator');
      expect(validator.Properties!.ValidateRequestBody).toBe(true);
    }
    const [stopId, stopSync] = model(REQUEST_MODEL_NAMES.stopSync);
    expect(stopSync.Properties!.Schema).toEqual(stopSyncModelSchema());
    expect(method('POST', '/migrations/{id}/stop-sync')!.Properties!.RequestModels).toEqual({ 'application/json': { Ref: stopId } });
    const [resumeId, resume] = model(REQUEST_MODEL_NAMES.resumeMigration);
    expect(resume.Properties!.Schema).toEqual(resumeMigrationModelSchema());
    expect(method('POST', '/migrations/{id}/resume')!.Properties!.RequestModels).toEqual({ 'application/json': { Ref: resumeId } });
    // Routes without a body have no model.
    expect(method('GET', '/migrations')!.Properties!.RequestModels).toBeUndefined();
  });

  it('answers a body API Gateway refuses in the API error shape', () => {
    const [, response] = resources('AWS::ApiGateway::GatewayResponse').find(([, r]) => r.Properties!.ResponseType === 'BAD_REQUEST_BODY')!;
    expect(response.Properties!.StatusCode).toBe('400');
    const template400 = response.Properties!.ResponseTemplates['application/json'] as string;
    expect(JSON.parse(template400.replace('$context.error.validationErrorString', 'x'))).toEqual({ error: { code: 'INVALID_REQUEST', message: 'x' } });
  });
});

describe('draft4JsonSchema', () => {
  it("is zod's draft 4 output, with a record keyed by a pattern as patternProperties", () => {
    expect(
      draft4JsonSchema(
        z.strictObject({
          n: z.number().gt(0).lt(10),
          yes: z.literal(true),
          named: z.record(z.string().regex(/^[a-z]+$/), z.number().int()),
          any: z.record(z.string(), z.unknown()),
          list: z.array(z.string().nullable()).optional(),
        }),
      ),
    ).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      type: 'object',
      properties: {
        n: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: true },
        yes: { type: 'boolean', enum: [true] },
        named: { type: 'object', patternProperties: { '^[a-z]+$': { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } }, additionalProperties: false },
        any: { type: 'object', additionalProperties: {} },
        list: { type: 'array', items: { type: ['string', 'null'] } },
      },
      required: ['n', 'yes', 'named', 'any'],
      additionalProperties: false,
    });
  });

  it('refuses what draft 4 cannot express rather than weakening the schema', () => {
    expect(() => draft4JsonSchema(z.record(z.string().max(3), z.number()))).toThrow(/record keys/);
    expect(() => draft4JsonSchema(z.object({ s: z.string().meta({ writeOnly: true }) }))).toThrow(/draft 4 has no writeOnly/);
  });
});
