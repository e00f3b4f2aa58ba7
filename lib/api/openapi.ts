import * as z from 'zod';
import {
  API_ROUTES,
  CreateMigrationBody,
  IdempotencyKey,
  JobIdParameter,
  ListCollectionsQuery,
  ListEventsQuery,
  ListMigrationsQuery,
  MAX_BODY_BYTES,
  NoQuery,
  ResumeMigrationBody,
  StopSyncBody,
  type ApiOperation,
} from './requests';
import { CollectionPage, ErrorView, EventPage, JobPage, JobView, PreflightReportView } from './views';

/**
 * The OpenAPI 3.1 description of the REST API, generated from the routes (API_ROUTES) and the zod
 * schemas that validate every request (lib/api/requests.ts), so it cannot drift from them. Served
 * at `GET /openapi.json`; the stack turns the body schema of `POST /migrations` into the API
 * Gateway request model (zod's own draft 4 output, `draft4JsonSchema`, infra/apiModels.ts), so
 * validation is defined once. Response schemas are the views of lib/api/views.ts, which type what
 * the service answers.
 */

/** A JSON Schema (or any JSON object of the document). */
export type JsonSchema = { [keyword: string]: unknown };

const OPENAPI_VERSION = '3.1.0';
/** OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what z.toJSONSchema writes by default. */
const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** The schema of what a request part accepts (zod's input side), without `$schema`: OpenAPI 3.1 sets the dialect. */
function inputJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  return json;
}

function outputJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'output' }) as JsonSchema;
  return json;
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/**
 * The credential fields of a cluster (`source`, `target`): write-only. They are saved apart from
 * the job (Secrets Manager on AWS) and never come back in a response, an event or a log line.
 */
export const CREDENTIAL_FIELDS: Readonly<Record<string, string>> = {
  token: 'Secret. A Milvus token (`user:password`, or a Zilliz Cloud API key). Write-only: saved apart from the job, never returned, logged or recorded.',
  username: 'A Milvus user, with `password`. Write-only: saved apart from the job, never returned, logged or recorded.',
  password: 'Secret. The password of `username`. Write-only: saved apart from the job, never returned, logged or recorded.',
  secretArn:
    'AWS only: a Secrets Manager secret holding `{"token": ...}` or `{"username": ..., "password": ...}` (and `"tls": {"caCert": ...}` for a private CA), read by the steps that connect. Write-only: never returned. Refused by preflight, which does not read secrets.',
  tls:
    'TLS of a cluster whose certificate a private CA signed: `caCert`, the PEM text of that CA (one or more certificates, at most 48 KiB), trusted instead of the system roots; `serverName`, the name to check the certificate against when it differs from the uri\'s host. ' +
    'With `caCert` the connection uses TLS (give an `https://` uri; `http://` is refused). Travels with the credentials: write-only, saved apart from the job, never returned, logged or recorded. With `secretArn`, put it in the secret\'s JSON instead.',
};

const URI_DESCRIPTION =
  '`host:port` or `http(s)://host[:port]` (checked by the service: 400 otherwise). A `user:password@` part is a credential too: it is removed before the uri is stored or shown.';

const CREATE_RULES =
  'Rules the service checks beyond this schema (400 naming the field): `uri` format; a cluster takes `token`, or `username` with `password`, or `secretArn`, never two of them; `tls.caCert` is PEM certificates; `tls` goes with an `https://` or bare `host:port` uri, and not with `secretArn`; ' +
  'an offline migration names at most one database; database and collection names (and target names) are not repeated; a partition key field cannot be nullable.';

/**
 * Request schemas are written for the OpenAPI document (JSON Schema 2020-12) or for an API Gateway
 * model (draft 4, which has no `writeOnly`: credentials are described as write-only in words only).
 */
export type RequestDialect = 'openapi' | 'draft-04';

const requestJsonSchema = (schema: z.ZodType, dialect: RequestDialect) => (dialect === 'openapi' ? inputJsonSchema(schema) : draft4JsonSchema(schema));

/** The body of `POST /migrations` (and of `POST /migrations/preflight`), credentials marked write-only. */
export function createMigrationRequestSchema(dialect: RequestDialect = 'openapi'): JsonSchema {
  const schema = requestJsonSchema(CreateMigrationBody, dialect);
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const role of ['source', 'target'] as const) {
    properties[role] = describeConnection(properties[role], role, dialect);
  }
  return { ...schema, description: `A migration job. ${CREATE_RULES}` };
}

function describeConnection(connection: JsonSchema | undefined, role: string, dialect: RequestDialect): JsonSchema {
  const fields = { ...(connection?.properties as Record<string, JsonSchema> | undefined) };
  if (!fields.uri) throw new Error(`${role}.uri is not in the request schema`);
  fields.uri = { ...fields.uri, description: URI_DESCRIPTION };
  for (const [field, description] of Object.entries(CREDENTIAL_FIELDS)) {
    // A credential field renamed or added in lib/cluster.ts must be marked here too.
    if (!fields[field]) throw new Error(`${role}.${field} is not in the request schema: update CREDENTIAL_FIELDS`);
    fields[field] = { ...fields[field], ...(dialect === 'openapi' ? { writeOnly: true } : {}), description };
  }
  const unmarked = Object.keys(fields).filter((field) => field !== 'uri' && !(field in CREDENTIAL_FIELDS));
  if (unmarked.length > 0) throw new Error(`${role} has fields neither uri nor credentials: ${unmarked.join(', ')}; say whether they are secret`);
  return { ...connection, properties: fields, description: `The ${role} cluster: where it is and how to sign in.` };
}

/** The body of `POST /migrations/{id}/resume`: credentials given again, every field write-only. */
export function resumeMigrationRequestSchema(dialect: RequestDialect = 'openapi'): JsonSchema {
  const schema = requestJsonSchema(ResumeMigrationBody, dialect);
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const role of ['source', 'target'] as const) {
    const fields = { ...(properties[role]?.properties as Record<string, JsonSchema> | undefined) };
    for (const [field, description] of Object.entries(CREDENTIAL_FIELDS)) {
      if (!fields[field]) throw new Error(`${role}.${field} is not in the resume schema: update CREDENTIAL_FIELDS`);
      fields[field] = { ...fields[field], ...(dialect === 'openapi' ? { writeOnly: true } : {}), description };
    }
    const unmarked = Object.keys(fields).filter((field) => !(field in CREDENTIAL_FIELDS));
    if (unmarked.length > 0) throw new Error(`resume ${role} has fields that are not credentials: ${unmarked.join(', ')}; say whether they are secret`);
    properties[role] = {
      ...properties[role],
      properties: fields,
      description: `The ${role} cluster's credentials, given again (the job keeps its uri). Needed when the job had inline credentials: they were deleted when it failed. Leave out for a cluster without credentials or with your own secretArn.`,
    };
  }
  return { ...schema, description: 'Credentials for a resumed job; the same rules as for POST /migrations (a token, or username with password, or secretArn).' };
}

/** The body of `POST /migrations/{id}/stop-sync`. */
export function stopSyncRequestSchema(dialect: RequestDialect = 'openapi'): JsonSchema {
  return {
    ...requestJsonSchema(StopSyncBody, dialect),
    description: 'The operator confirms that nothing writes to the source any more: the job drains the last changes, cuts over and verifies.',
  };
}

// ---------------------------------------------------------------------------------------------
// Operations

type Ref = { $ref: string };
const schemaRef = (name: string): Ref => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Ref => ({ $ref: `#/components/responses/${name}` });
const jsonContent = (schema: JsonSchema | Ref) => ({ 'application/json': { schema } });

interface OperationDoc {
  summary: string;
  description: string;
  tags: string[];
  /** The query schema the route validates (NoQuery: any parameter is refused). */
  query: z.ZodType;
  body?: { schema: 'CreateMigrationRequest' | 'StopSyncRequest' | 'ResumeMigrationRequest'; description: string };
  idempotencyKey?: boolean;
  responses: Record<string, JsonSchema | Ref>;
}

const job = (description: string) => ({ description, content: jsonContent(schemaRef('Job')) });

/** One entry per operation of API_ROUTES (the type makes a new route without a description a compile error). */
const OPERATIONS: Record<ApiOperation, OperationDoc> = {
  createMigration: {
    summary: 'Create a migration job',
    description:
      'Validates the request, saves its credentials apart from the job, takes the target locks and starts the state machine. ' +
      'With an `Idempotency-Key`, the same key and body create one job however often they are sent (201, then 200 with the same job); ' +
      'the same key with another body is a 409. A job that would write a target collection another running job writes is a 409 naming both.',
    tags: ['migrations'],
    query: NoQuery,
    body: { schema: 'CreateMigrationRequest', description: 'The job to create' },
    idempotencyKey: true,
    responses: {
      '201': {
        ...job('The job was created'),
        headers: { Location: { description: 'The path of the job', schema: { type: 'string' } } },
      },
      '200': job('A job created before with the same Idempotency-Key and body (nothing new was created)'),
      '400': responseRef('BadRequest'),
      '409': responseRef('Conflict'),
      '413': responseRef('PayloadTooLarge'),
    },
  },
  listMigrations: {
    summary: 'List migration jobs, newest first',
    description: 'A page of jobs; pass the answer\'s `nextToken` to get the next one.',
    tags: ['migrations'],
    query: ListMigrationsQuery,
    responses: { '200': { description: 'A page of jobs', content: jsonContent(schemaRef('JobPage')) }, '400': responseRef('BadRequest') },
  },
  preflightMigration: {
    summary: 'Check a migration request without starting it',
    description:
      'Takes the body of `POST /migrations` and runs the checks of Preflight (reachability, collections, what the target cannot hold, name collisions) ' +
      'with an estimate of duration and cost. Creates no job, saves no credential, writes to neither cluster. A valid body always gets 200; ' +
      '`ok` says whether a job would pass. Takes inline credentials only (`secretArn` is a 400).',
    tags: ['migrations'],
    query: NoQuery,
    body: { schema: 'CreateMigrationRequest', description: 'The job to check' },
    responses: {
      '200': { description: 'What a job with this request would do', content: jsonContent(schemaRef('PreflightReport')) },
      '400': responseRef('BadRequest'),
      '413': responseRef('PayloadTooLarge'),
    },
  },
  getMigration: {
    summary: 'Get a migration job',
    description:
      'Status, phase, progress, what the collections add up to (counts by status, rows), warnings, error, verification and, for online jobs, the sync and its lag. The collections themselves: GET /migrations/{id}/collections.',
    tags: ['migrations'],
    query: NoQuery,
    responses: { '200': job('The job'), '400': responseRef('BadRequest'), '404': responseRef('NotFound') },
  },
  listMigrationEvents: {
    summary: "List a job's events, oldest first",
    description: 'The event log of the job: creation, phases, collections copied, warnings, failure.',
    tags: ['migrations'],
    query: ListEventsQuery,
    responses: {
      '200': { description: 'A page of events', content: jsonContent(schemaRef('EventPage')) },
      '400': responseRef('BadRequest'),
      '404': responseRef('NotFound'),
    },
  },
  listMigrationCollections: {
    summary: "List a job's collections with their progress, in key order",
    description: 'One entry per collection the job copies: source and target names, status, rows copied of rows to copy. A job of thousands of collections is read page by page.',
    tags: ['migrations'],
    query: ListCollectionsQuery,
    responses: {
      '200': { description: 'A page of collections', content: jsonContent(schemaRef('CollectionPage')) },
      '400': responseRef('BadRequest'),
      '404': responseRef('NotFound'),
    },
  },
  cancelMigration: {
    summary: 'Cancel a job that has not ended',
    description: 'Marks the job CANCELLED, stops its execution, forgets its credentials and releases its target locks. A job that has ended is a 409.',
    tags: ['migrations'],
    query: NoQuery,
    responses: { '200': job('The cancelled job'), '400': responseRef('BadRequest'), '404': responseRef('NotFound'), '409': responseRef('Conflict') },
  },
  stopMigrationSync: {
    summary: 'Confirm that writes to the source stopped (online jobs)',
    description:
      'Accepted once an online job is SYNCING: the job becomes CUTTING_OVER, drains the last changes, verifies and ends. ' +
      'An offline job, or one that is not SYNCING, is a 409.',
    tags: ['migrations'],
    query: NoQuery,
    body: { schema: 'StopSyncRequest', description: 'The confirmation' },
    responses: {
      '200': job('The job, now CUTTING_OVER'),
      '400': responseRef('BadRequest'),
      '404': responseRef('NotFound'),
      '409': responseRef('Conflict'),
      '413': responseRef('PayloadTooLarge'),
    },
  },
  resumeMigration: {
    summary: 'Resume a FAILED job from its checkpoints',
    description:
      'Starts a new execution of a FAILED job: collections and shards already copied are kept, a partly copied shard continues from its checkpoint ' +
      '(rows written past it are removed first), and the target collections the job created are its own. Its credentials were deleted when it failed: ' +
      'give them again in the body (a cluster without credentials, or with your own secretArn, needs none). The job takes its target locks again ' +
      '(409 when another running job holds one); a `JobResumed` event says how many rows were kept. A job that is SUCCESSFUL, CANCELLED or has not ended is a 409.',
    tags: ['migrations'],
    query: NoQuery,
    body: { schema: 'ResumeMigrationRequest', description: 'The credentials, given again' },
    responses: {
      '200': job('The job, PENDING again, with its executions'),
      '400': responseRef('BadRequest'),
      '404': responseRef('NotFound'),
      '409': responseRef('Conflict'),
      '413': responseRef('PayloadTooLarge'),
    },
  },
  getOpenApiDocument: {
    summary: 'This description of the API',
    description: 'The OpenAPI 3.1 document, generated from the schemas that validate every request.',
    tags: ['meta'],
    query: NoQuery,
    responses: { '200': { description: 'The OpenAPI document', content: jsonContent({ type: 'object' }) } },
  },
};

/** Path parameters by name: every `{name}` of a route must be here. */
const PATH_PARAMETERS: Record<string, { schema: z.ZodType; description: string }> = {
  id: { schema: JobIdParameter, description: 'The job id, as `POST /migrations` answered it (`mig-...`)' },
};

function parameters(resource: string, doc: OperationDoc): JsonSchema[] {
  const path = [...resource.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
    const known = PATH_PARAMETERS[name];
    if (!known) throw new Error(`no description of path parameter {${name}} (${resource})`);
    return { name, in: 'path', required: true, description: known.description, schema: inputJsonSchema(known.schema) };
  });
  const input = inputJsonSchema(doc.query);
  const output = outputJsonSchema(doc.query);
  const required = new Set((input.required as string[] | undefined) ?? []);
  const query = Object.entries((input.properties ?? {}) as Record<string, JsonSchema>).map(([name, schema]) => {
    // A parameter parsed from text (limit) states the range its parsed value must fall in.
    const parsed = (output.properties as Record<string, JsonSchema>)[name];
    const range = parsed && parsed.type !== schema.type ? parsedRange(parsed) : undefined;
    return { name, in: 'query', required: required.has(name), ...(range ? { description: range } : {}), schema };
  });
  const headers = doc.idempotencyKey
    ? [
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: 'Makes the request idempotent for 24 h: the same key and body create one job. A UUID, say.',
          schema: inputJsonSchema(IdempotencyKey),
        },
      ]
    : [];
  return [...path, ...query, ...headers];
}

function parsedRange(schema: JsonSchema): string | undefined {
  const variant = (schema.anyOf as JsonSchema[] | undefined)?.find((s) => s.type !== 'null') ?? schema;
  if (variant.type !== 'integer' && variant.type !== 'number') return undefined;
  return `A whole number from ${String(variant.minimum)} to ${String(variant.maximum)}`;
}

function operation(route: (typeof API_ROUTES)[number]): JsonSchema {
  const doc = OPERATIONS[route.operation];
  const noQuery = doc.query === NoQuery ? ' Takes no query parameters: any is refused with 400.' : '';
  return {
    operationId: route.operation,
    summary: doc.summary,
    description: doc.description + noQuery,
    tags: doc.tags,
    parameters: parameters(route.resource, doc),
    ...(doc.body
      ? { requestBody: { required: doc.body.schema === 'CreateMigrationRequest', description: doc.body.description, content: jsonContent(schemaRef(doc.body.schema)) } }
      : {}),
    responses: { ...doc.responses, '403': responseRef('Forbidden'), '500': responseRef('Internal') },
  };
}

const errorResponse = (description: string) => ({ description, content: jsonContent(schemaRef('Error')) });

function buildDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of API_ROUTES) {
    (paths[route.resource] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: OPENAPI_VERSION,
    jsonSchemaDialect: JSON_SCHEMA_2020_12,
    info: {
      title: 'milvus-migrate',
      version: '1',
      description:
        'Migrates the data of a Milvus cluster (self-hosted or Zilliz Cloud) to another: offline (copy, index, verify) or online (copy, then sync ' +
        'changes until the operator stops writes, then cut over). Request bodies and queries are validated against the schemas below; ' +
        `a bad request gets a 400 naming the field and the rule. Bodies are at most ${MAX_BODY_BYTES} bytes. ` +
        'Credentials (`token`, `username`, `password`, `secretArn`, `tls` and any `user:password@` in a uri) are write-only: they appear in no response, event or log line.',
    },
    servers: [{ url: '.', description: 'Where this document is served: the API stage (`.../v1`) on AWS, `milvus-migrate serve` locally' }],
    security: [{ sigv4: [] }],
    tags: [
      { name: 'migrations', description: 'Migration jobs' },
      { name: 'meta', description: 'About the API' },
    ],
    paths,
    components: {
      schemas: {
        CreateMigrationRequest: createMigrationRequestSchema(),
        StopSyncRequest: stopSyncRequestSchema(),
        ResumeMigrationRequest: resumeMigrationRequestSchema(),
        Job: outputJsonSchema(JobView),
        JobPage: outputJsonSchema(JobPage),
        EventPage: outputJsonSchema(EventPage),
        CollectionPage: outputJsonSchema(CollectionPage),
        PreflightReport: outputJsonSchema(PreflightReportView),
        Error: outputJsonSchema(ErrorView),
      },
      responses: {
        BadRequest: errorResponse(
          'The request does not match its schema (INVALID_REQUEST, naming every bad field) or its body is not JSON (MALFORMED_JSON). ' +
            'On AWS, API Gateway checks a body against the request model first and refuses it in the same shape, with its own wording and no `issues`.',
        ),
        NotFound: errorResponse('No job with this id (JOB_NOT_FOUND)'),
        Conflict: errorResponse('The job is not in a state that allows this, an Idempotency-Key was used with another body, or a target collection is locked by a running job'),
        PayloadTooLarge: errorResponse(`The body is larger than ${MAX_BODY_BYTES} bytes (PAYLOAD_TOO_LARGE)`),
        Internal: errorResponse('An unexpected error (INTERNAL); the message says nothing of the cause, which goes to the service log'),
        Forbidden: {
          description: 'On AWS: the request is not signed, or its signer may not call the API (answered by API Gateway)',
          content: jsonContent({ type: 'object', properties: { message: { type: 'string' } } }),
        },
      },
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description:
            'On AWS, requests are signed with AWS Signature Version 4 (service `execute-api`) by a principal allowed to invoke the API. The local server (`milvus-migrate serve`) takes unsigned requests.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
}

let cached: JsonSchema | undefined;

/** The OpenAPI document (built once; do not mutate it). */
export function openApiDocument(): JsonSchema {
  cached ??= buildDocument();
  return cached;
}

// ---------------------------------------------------------------------------------------------
// JSON Schema draft 4, for API Gateway request models

/** Keywords of JSON Schema draft 4 that API Gateway models may hold. */
const DRAFT_4_KEYWORDS = new Set([
  '$schema', 'type', 'properties', 'patternProperties', 'additionalProperties', 'required', 'items', 'additionalItems',
  'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern',
  'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'allOf', 'anyOf', 'oneOf', 'not',
  'title', 'description', 'default', 'format', 'definitions', '$ref', 'dependencies',
]);

/**
 * What a request part accepts, in JSON Schema draft 4 (API Gateway's dialect), as zod writes it
 * (`target: 'draft-04'`). One addition: draft 4 has no `propertyNames`, so zod leaves the names of
 * a record unchecked; a record keyed by a pattern (`mapping.fields`, keyed by Milvus field names)
 * becomes `patternProperties` with `additionalProperties: false`, as strict as the zod schema.
 * Anything draft 4 does not know is an error rather than a silently weaker model.
 */
export function draft4JsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-04', io: 'input', override: recordKeysAsPatterns }) as JsonSchema;
  assertDraft4(json, '#');
  return json;
}

function recordKeysAsPatterns({ zodSchema, jsonSchema }: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  if (zodSchema._zod.def.type !== 'record') return;
  const { $schema: _dialect, type, pattern, ...other } = z.toJSONSchema(zodSchema._zod.def.keyType, { target: 'draft-04' }) as JsonSchema;
  if (type !== 'string' || Object.keys(other).length > 0) throw new Error('only record keys that are strings with at most a pattern convert to draft 4');
  if (pattern === undefined) return; // any name: additionalProperties alone says it
  jsonSchema.patternProperties = { [pattern as string]: jsonSchema.additionalProperties ?? {} };
  jsonSchema.additionalProperties = false;
}

function assertDraft4(schema: unknown, at: string): void {
  if (Array.isArray(schema)) return schema.forEach((s, i) => assertDraft4(s, `${at}/${i}`));
  if (!schema || typeof schema !== 'object') return;
  for (const [keyword, value] of Object.entries(schema)) {
    if (!DRAFT_4_KEYWORDS.has(keyword)) throw new Error(`${at}/${keyword}: JSON Schema draft 4 has no ${keyword}`);
    if (keyword === 'properties' || keyword === 'patternProperties' || keyword === 'definitions') {
      for (const [name, sub] of Object.entries(value as object)) assertDraft4(sub, `${at}/${keyword}/${name}`);
    } else if (keyword !== 'enum' && keyword !== 'default' && keyword !== 'required') assertDraft4(value, `${at}/${keyword}`);
  }
}
