import { z } from 'zod';
import { CollectionProgress, JobError, JobEvent, JobPhase, JobStatus, JobType, SyncState, VerificationReport } from '../jobs/model';
import type { PreflightReport } from '../migration/inspect';
import type { HttpErrorBody } from './errors';
import {
  API_ROUTES,
  CreateMigrationBody,
  IdempotencyKey,
  JobIdParameter,
  ListEventsQuery,
  ListMigrationsQuery,
  MAX_BODY_BYTES,
  NoQuery,
  StopSyncBody,
  type ApiOperation,
} from './requests';
import type { JobView } from './service';

/**
 * The OpenAPI 3.1 description of the REST API, generated from the routes (API_ROUTES) and the zod
 * schemas that validate every request (lib/api/requests.ts), so it cannot drift from them. Served
 * at `GET /openapi.json`; the stack turns the body schema of `POST /migrations` into the API
 * Gateway request model (`toDraft4`, infra/apiModels.ts), so validation is defined once.
 */

/** A JSON Schema (or any JSON object of the document). */
export type JsonSchema = { [keyword: string]: unknown };

export const OPENAPI_VERSION = '3.1.0';
/** OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what z.toJSONSchema writes by default. */
const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const JSON_SCHEMA_DRAFT_4 = 'http://json-schema.org/draft-04/schema#';

/** The schema of what a request part accepts (zod's input side), without `$schema`: OpenAPI 3.1 sets the dialect. */
export function inputJsonSchema(schema: z.ZodType): JsonSchema {
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

/** The body of `POST /migrations` (and of `POST /migrations/preflight`), credentials marked write-only. */
export function createMigrationRequestSchema(): JsonSchema {
  const schema = inputJsonSchema(CreateMigrationBody);
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const role of ['source', 'target'] as const) {
    properties[role] = describeConnection(properties[role], role);
  }
  return { ...schema, description: `A migration job. ${CREATE_RULES}` };
}

function describeConnection(connection: JsonSchema | undefined, role: string): JsonSchema {
  const fields = { ...(connection?.properties as Record<string, JsonSchema> | undefined) };
  if (!fields.uri) throw new Error(`${role}.uri is not in the request schema`);
  fields.uri = { ...fields.uri, description: URI_DESCRIPTION };
  for (const [field, description] of Object.entries(CREDENTIAL_FIELDS)) {
    // A credential field renamed or added in lib/cluster.ts must be marked here too.
    if (!fields[field]) throw new Error(`${role}.${field} is not in the request schema: update CREDENTIAL_FIELDS`);
    fields[field] = { ...fields[field], writeOnly: true, description };
  }
  const unmarked = Object.keys(fields).filter((field) => field !== 'uri' && !(field in CREDENTIAL_FIELDS));
  if (unmarked.length > 0) throw new Error(`${role} has fields neither uri nor credentials: ${unmarked.join(', ')}; say whether they are secret`);
  return { ...connection, properties: fields, description: `The ${role} cluster: where it is and how to sign in.` };
}

/** The body of `POST /migrations/{id}/stop-sync`. */
export function stopSyncRequestSchema(): JsonSchema {
  return {
    ...inputJsonSchema(StopSyncBody),
    description: 'The operator confirms that nothing writes to the source any more: the job drains the last changes, cuts over and verifies.',
  };
}

// ---------------------------------------------------------------------------------------------
// Responses: the views of lib/api/service.ts described in zod, checked against their TypeScript types below.

const time = (description: string) => z.string().meta({ format: 'date-time', description });

const CollectionViewSchema = CollectionProgress.pick({
  key: true,
  sourceDb: true,
  sourceName: true,
  targetDb: true,
  targetName: true,
  status: true,
  rowsTotal: true,
  rowsCopied: true,
}).extend({ percent: z.number().min(0).max(100).describe('rowsCopied of rowsTotal, one decimal, at most 100') });

/** What toSyncView shows of the job's sync state: everything but the internal per shard digests. */
const SyncViewSchema = SyncState.omit({ targetDigests: true });

const JobViewSchema = z
  .object({
    jobId: z.string(),
    type: JobType,
    status: JobStatus,
    phase: JobPhase,
    progressPercent: z.number().min(0).max(100),
    source: z.object({ uri: z.string().describe('The uri as given, without any user:password@ part') }),
    target: z.object({ uri: z.string().describe('The uri as given, without any user:password@ part') }),
    collections: z.array(CollectionViewSchema),
    warnings: z.array(z.string()),
    error: JobError.optional().describe('Why the job failed (status FAILED)'),
    verification: VerificationReport.optional(),
    createdAt: time('When the job was created'),
    updatedAt: time('When the job record last changed'),
    startedAt: time('When Preflight started').optional(),
    endedAt: time('When the job ended').optional(),
    syncLagSeconds: z
      .number()
      .nonnegative()
      .nullable()
      .optional()
      .describe('Online: an upper bound on the target staleness in seconds; null until the first sync cycle completes'),
    sync: SyncViewSchema.optional().describe('Online: the incremental sync, once started'),
    writesStoppedAt: time('Online: when the operator confirmed that writes stopped').optional(),
    cutoverSeconds: z.number().nonnegative().optional().describe('Online, once SUCCESSFUL: seconds from the stop-sync confirmation to the end of the job'),
  })
  .describe('A migration job. Never holds a credential, nor where credentials are kept.');

const page = <S extends z.ZodType>(item: S, what: string) =>
  z
    .object({
      items: z.array(item),
      nextToken: z.string().optional().describe('Pass as `nextToken` for the next page; absent on the last page'),
    })
    .describe(what);

const JobPageSchema = page(JobViewSchema, 'Jobs, newest first');
const EventPageSchema = page(JobEvent, 'Events of a job, oldest first');

const ClusterReportSchema = z.object({
  uri: z.string(),
  reachable: z.boolean(),
  reason: z.string().optional().describe('Why not, when not reachable'),
  version: z.string().optional(),
});

const PreflightReportSchema = z
  .object({
    ok: z.boolean().describe('True when a job with this request would pass Preflight now'),
    source: ClusterReportSchema,
    target: ClusterReportSchema.extend({ databasesToCreate: z.array(z.string()) }),
    collections: z.array(
      z.object({
        source: z.string(),
        target: z.string(),
        action: z.enum(['create', 'append', 'skip']),
        rows: z.number().int().nonnegative(),
        estimatedBytes: z.number().nonnegative(),
        warnings: z.array(z.string()),
      }),
    ),
    problems: z.array(z.object({ code: z.string(), message: z.string() })).describe('Everything that would fail the job, each with the code it would fail with'),
    estimate: z
      .object({
        rows: z.number().nonnegative(),
        estimatedBytes: z.number().nonnegative(),
        shards: z.number().nonnegative(),
        batches: z.number().nonnegative(),
        durationSeconds: z.number().nonnegative(),
        costUsd: z.object({ lambda: z.number(), stepFunctions: z.number(), dynamoDb: z.number(), total: z.number() }),
        assumptions: z.array(z.string()),
      })
      .optional()
      .describe('Absent when a cluster cannot be reached'),
  })
  .describe('What a job with this request would do, checked without writing anything');

const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable and machine readable: INVALID_REQUEST, MALFORMED_JSON, JOB_NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, INTERNAL...'),
      message: z.string().describe('One readable sentence; for INVALID_REQUEST every bad field as `path: rule`'),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('INVALID_REQUEST from the service: one entry per bad field'),
    }),
  })
  .describe('Every error the API answers (API Gateway refusals of the body model included)');

/*
 * Compile-time checks that the schemas above describe the views the service returns: a field
 * added to, removed from or retyped in JobView (lib/api/service.ts), PreflightReport or
 * HttpErrorBody fails `tsc` here until the schema follows. test/api/openapi.test.ts also validates
 * real views against the generated JSON Schema, nested fields included.
 */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
type Describes<S extends z.ZodType, T> = SameKeys<z.output<S>, T> extends true ? ([z.output<S>] extends [T] ? ([T] extends [z.output<S>] ? true : false) : false) : false;
true satisfies Describes<typeof JobViewSchema, JobView>;
true satisfies Describes<typeof PreflightReportSchema, PreflightReport>;
true satisfies Describes<typeof ErrorSchema, HttpErrorBody>;

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
  body?: { schema: 'CreateMigrationRequest' | 'StopSyncRequest'; description: string };
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
    description: 'Status, phase, progress per collection, warnings, error, verification and, for online jobs, the sync and its lag.',
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
        Job: outputJsonSchema(JobViewSchema),
        JobPage: outputJsonSchema(JobPageSchema),
        EventPage: outputJsonSchema(EventPageSchema),
        PreflightReport: outputJsonSchema(PreflightReportSchema),
        Error: outputJsonSchema(ErrorSchema),
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

/** Keywords draft 4 knows, kept as they are (the structural ones are walked below). */
const DRAFT_4_VALUE_KEYWORDS = new Set([
  'type',
  'required',
  'enum',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'title',
  'description',
  'default',
]);
/** Annotations draft 4 lacks; they never change what validates, so they are dropped. */
const DROPPED_ANNOTATIONS = new Set(['writeOnly', 'readOnly', 'examples', 'deprecated', '$comment', 'format']);

/**
 * Converts a JSON Schema 2020-12 (as z.toJSONSchema writes it) to draft 4, the dialect of API
 * Gateway models. What must change is converted: numeric `exclusiveMinimum`/`exclusiveMaximum`
 * become `minimum`/`maximum` with the boolean flag, `const` a one-value `enum`, and a
 * `propertyNames` pattern with `additionalProperties` (a record keyed by names) becomes
 * `patternProperties` with `additionalProperties: false`. Annotations draft 4 lacks (`writeOnly`,
 * `readOnly`, `examples`, `deprecated`, `format`) are dropped: they never change what validates.
 * A keyword it does not know is an error, so nothing is weakened silently.
 */
export function toDraft4(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return { $schema: JSON_SCHEMA_DRAFT_4, ...convert(rest, '#') };
}

function convert(schema: JsonSchema, at: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    const here = `${at}/${keyword}`;
    if (DRAFT_4_VALUE_KEYWORDS.has(keyword)) out[keyword] = value;
    else if (DROPPED_ANNOTATIONS.has(keyword)) continue;
    else if (keyword === 'properties' || keyword === 'patternProperties') out[keyword] = convertMap(value as Record<string, JsonSchema>, here);
    else if (keyword === 'items' || keyword === 'not') out[keyword] = convert(value as JsonSchema, here);
    else if (keyword === 'additionalProperties') out[keyword] = typeof value === 'boolean' ? value : convert(value as JsonSchema, here);
    else if (keyword === 'anyOf' || keyword === 'oneOf' || keyword === 'allOf') out[keyword] = (value as JsonSchema[]).map((s, i) => convert(s, `${here}/${i}`));
    else if (keyword === 'const') out.enum = [value];
    else if (keyword === 'exclusiveMinimum' || keyword === 'exclusiveMaximum') {
      if (typeof value !== 'number') throw new Error(`${here}: expected a number`);
      const bound = keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      if (schema[bound] !== undefined) throw new Error(`${here}: both ${bound} and ${keyword}`);
      out[bound] = value;
      out[keyword] = true;
    } else if (keyword === 'propertyNames') continue; // handled with additionalProperties below
    else throw new Error(`${here}: JSON Schema draft 4 has no ${keyword}; convert it in toDraft4 or drop it there with a reason`);
  }
  if (schema.propertyNames !== undefined) recordToPatternProperties(schema, out, at);
  return out;
}

function convertMap(map: Record<string, JsonSchema>, at: string): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(map).map(([name, schema]) => [name, convert(schema, `${at}/${name}`)]));
}

/** `{propertyNames: {pattern}, additionalProperties: S}` -> `{patternProperties: {pattern: S}, additionalProperties: false}`. */
function recordToPatternProperties(schema: JsonSchema, out: JsonSchema, at: string): void {
  const { type, pattern, ...other } = schema.propertyNames as JsonSchema;
  if ((type !== undefined && type !== 'string') || Object.keys(other).length > 0) {
    throw new Error(`${at}/propertyNames: only a pattern on the names converts to draft 4`);
  }
  if (pattern === undefined) return; // names are strings anyway
  if (schema.patternProperties !== undefined) throw new Error(`${at}: both propertyNames and patternProperties`);
  const values = schema.additionalProperties;
  out.additionalProperties = false;
  if (values === false) return; // no property at all
  out.patternProperties = { [pattern as string]: values === undefined || values === true ? {} : convert(values as JsonSchema, `${at}/additionalProperties`) };
}
