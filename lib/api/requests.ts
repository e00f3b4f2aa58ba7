import * as z from 'zod';
import { ClusterConnection } from '../cluster';
import { ExistingTargetPolicy, IndexPolicy, JobOptions, JobType, SyncStrategyName } from '../jobs/model';
import { ValidationError, type FieldIssue } from './errors';

/** The routes of the REST API, as data: the Lambda router, the local HTTP server and the stack read them. */
export const API_ROUTES = [
  { method: 'POST', resource: '/migrations', operation: 'createMigration' },
  { method: 'GET', resource: '/migrations', operation: 'listMigrations' },
  // Before /migrations/{id}: a concrete path matches the first template that fits.
  { method: 'POST', resource: '/migrations/preflight', operation: 'preflightMigration' },
  { method: 'GET', resource: '/migrations/{id}', operation: 'getMigration' },
  { method: 'GET', resource: '/migrations/{id}/events', operation: 'listMigrationEvents' },
  { method: 'GET', resource: '/migrations/{id}/collections', operation: 'listMigrationCollections' },
  { method: 'POST', resource: '/migrations/{id}/cancel', operation: 'cancelMigration' },
  { method: 'POST', resource: '/migrations/{id}/stop-sync', operation: 'stopMigrationSync' },
  { method: 'POST', resource: '/migrations/{id}/resume', operation: 'resumeMigration' },
  { method: 'GET', resource: '/openapi.json', operation: 'getOpenApiDocument' },
] as const;
export type ApiOperation = (typeof API_ROUTES)[number]['operation'];

export const API_RESOURCES: readonly string[] = [...new Set(API_ROUTES.map((route) => route.resource))];

/**
 * Which resource template a concrete path falls under, with its path parameters
 * (`/migrations/mig-1/events` -> `/migrations/{id}/events`, {id: 'mig-1'}). A trailing slash is ignored.
 */
export function matchResource(path: string): { resource: string; pathParameters: Record<string, string> } | undefined {
  const parts = path.replace(/\/+$/, '').split('/');
  for (const resource of API_RESOURCES) {
    const template = resource.split('/');
    if (template.length !== parts.length) continue;
    const pathParameters: Record<string, string> = {};
    const matches = template.every((segment, i) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment === parts[i];
      if (!parts[i]) return false;
      try {
        pathParameters[parameter[1]] = decodeURIComponent(parts[i]);
      } catch {
        return false;
      }
      return true;
    });
    if (matches) return { resource, pathParameters };
  }
  return undefined;
}

/**
 * Largest request body the API accepts. The job item keeps the request's scope (databases, their
 * collections and mappings) beside its other fields, so this bounds it under DynamoDB's 400 KB
 * item limit (test/jobs/itemSize.test.ts projects it). A scope of every collection of a database
 * names none of them and stays small at any number of collections.
 */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * Milvus's rule for database and collection names (https://milvus.io/docs/limitations.md):
 * 1 to 255 characters, letters, digits and underscores, the first a letter or an underscore.
 */
export const MILVUS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const MILVUS_NAME_MESSAGE = 'must be 1 to 255 letters, digits or underscores, starting with a letter or underscore (Milvus naming rule)';
const MilvusName = z.string().regex(MILVUS_NAME, MILVUS_NAME_MESSAGE);

/**
 * `databases[].collections[].mapping`: what can be checked without the source schema is checked
 * here (a 400 naming the field and the rule); what needs it (the field exists, its type, vector
 * fields never change) is checked by lib/milvus/mapping.ts in Preflight (code INVALID_MAPPING).
 */
const MappingRequest = z
  .strictObject({
    description: z.string().max(65_535).optional(),
    autoId: z.boolean().optional(),
    fields: z
      .record(
        MilvusName,
        z.strictObject({
          nullable: z.boolean().optional(),
          defaultValue: z.union([z.string().max(65_535), z.number().finite(), z.boolean()]).nullable().optional(),
        }),
      )
      .optional(),
    partitionKey: z.strictObject({ field: MilvusName, numPartitions: z.number().int().min(1).max(1024).optional() }).optional(),
    dynamicField: z.boolean().optional(),
    shardsNum: z.number().int().min(1).max(16).optional(),
  })
  .superRefine((mapping, ctx) => {
    const key = mapping.partitionKey?.field;
    if (key && mapping.fields?.[key]?.nullable === true) {
      ctx.addIssue({ code: 'custom', path: ['fields', key, 'nullable'], message: `field ${key} is the partition key, which cannot be nullable` });
    }
  });

const CollectionRequest = z.strictObject({ name: MilvusName, targetName: MilvusName.optional(), mapping: MappingRequest.optional() });

const DatabaseRequest = z
  .strictObject({
    name: MilvusName,
    targetName: MilvusName.optional(),
    collections: z.array(CollectionRequest).min(1, 'name at least one collection, or leave collections out for all of them').max(10_000).optional(),
  })
  .superRefine((db, ctx) => {
    const collections = db.collections ?? [];
    repeated(collections.map((c) => c.name)).forEach((i) =>
      ctx.addIssue({ code: 'custom', path: ['collections', i, 'name'], message: `collection ${collections[i].name} is named twice` }),
    );
    repeated(collections.map((c) => c.targetName ?? c.name)).forEach((i) =>
      ctx.addIssue({ code: 'custom', path: ['collections', i, 'targetName'], message: `target collection ${collections[i].targetName ?? collections[i].name} is named twice` }),
    );
  });

const OptionsRequest = z.strictObject({
  indexPolicy: IndexPolicy.optional(),
  rowsPerShard: z.number().int().positive().max(100_000_000).optional(),
  shardConcurrency: z.number().int().min(1).max(40).optional(),
  /** Milvus refuses inserts over 64 MB. */
  batchBytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).optional(),
  /** At most this many rows per batch (a query returns at most 16,384). */
  batchRows: z.number().int().min(1).max(16_384).optional(),
  /** A target collection that exists: 'fail' (default), 'skip' it, or 'append' the rows (same schema only). */
  existingTarget: ExistingTargetPolicy.optional(),
  /** Load the migrated collections on the target with the source's replica count. */
  loadAfterMigration: z.boolean().optional(),
  /** Copy users, roles and grants where both clusters allow it. */
  includeRbac: z.boolean().optional(),
  /** Online: alert when the sync lag first drops under this many seconds (default 10). */
  lagAlertSeconds: z.number().positive().max(86_400).optional(),
  /** Online: fail the job when writes are not confirmed stopped within this many seconds of sync start (default 7 days). */
  syncTimeoutSeconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
  /** Online: seconds the state machine waits between two sync invocations (default 5). */
  lagPollSeconds: z.number().int().min(1).max(300).optional(),
  /** Online: 'snapshot-diff' (default: compares every row each pass) or 'capture' (applies what the capture endpoint logged). */
  syncStrategy: SyncStrategyName.optional(),
  /** Online, capture: after SUCCESSFUL the capture endpoint forwards every call to the target. */
  switchover: z.boolean().optional(),
  /** Online, capture: deadline of a write the capture endpoint forwards, seconds (default 30). */
  captureWriteTimeoutSeconds: z.number().int().min(1).max(600).optional(),
  /** Online, capture: seconds between two comparisons of every row during the sync, which find writes that bypassed the endpoint (default 6 hours; the snapshot-diff strategy compares every row on each pass and ignores it). */
  comparisonIntervalSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
});

/** Body of `POST /migrations/{id}/stop-sync`: the operator's word that nothing writes to the source any more. */
export const StopSyncBody = z.strictObject({
  confirmWritesStopped: z.literal(true, { error: 'confirmWritesStopped must be true: stop every writer to the source first, then confirm' }),
});

/**
 * The credentials of a cluster given again to resume a job: a ClusterConnection without its uri
 * (the job keeps its clusters). Checked again with the job's uri (ClusterConnection's rules).
 */
const { uri: _uri, ...credentialFields } = ClusterConnection.shape;
const ResumeCredentials = z.strictObject(credentialFields);

/** Body of `POST /migrations/{id}/resume`: the credentials, when the job's were deleted as it failed. */
export const ResumeMigrationBody = z.strictObject({
  source: ResumeCredentials.optional(),
  target: ResumeCredentials.optional(),
});
export type ResumeMigrationBody = z.output<typeof ResumeMigrationBody>;

/** Offline jobs without databases move the `default` database; online jobs without databases move all. */
const DEFAULT_DATABASE = 'default';

/** Body of `POST /migrations`. */
export const CreateMigrationBody = z
  .strictObject({
    type: JobType,
    source: ClusterConnection,
    target: ClusterConnection,
    databases: z.array(DatabaseRequest).min(1, 'name at least one database, or leave databases out').max(256).optional(),
    options: OptionsRequest.optional(),
  })
  .superRefine((body, ctx) => {
    const databases = body.databases ?? [];
    if (body.type === 'offline' && (body.options?.syncStrategy === 'capture' || body.options?.switchover)) {
      ctx.addIssue({ code: 'custom', path: ['options', body.options?.switchover ? 'switchover' : 'syncStrategy'], message: 'an offline migration has no sync: syncStrategy capture and switchover are for online migrations' });
    }
    if (body.type === 'offline' && databases.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['databases'], message: 'an offline migration moves one database; name at most one' });
    }
    // The online sync matches rows by primary key and makes the target equal to the source.
    if (body.type === 'online') {
      if (body.options?.existingTarget === 'append') {
        ctx.addIssue({ code: 'custom', path: ['options', 'existingTarget'], message: 'an online migration keeps each target collection equal to its source, so it cannot append to one holding rows of its own' });
      }
      if (body.options?.switchover && body.options.syncStrategy !== 'capture') {
        ctx.addIssue({ code: 'custom', path: ['options', 'switchover'], message: 'switchover needs syncStrategy capture: the capture endpoint is what moves the applications to the target' });
      }
      databases.forEach((d, i) =>
        (d.collections ?? []).forEach((c, j) => {
          if (c.mapping?.autoId === true) {
            ctx.addIssue({ code: 'custom', path: ['databases', i, 'collections', j, 'mapping', 'autoId'], message: 'an online migration matches rows by primary key, so the target cannot generate its own keys' });
          }
          // Switchover rewrites names, never rows: a target that drops what callers send or filter on
          // would answer the applications differently from the source. Of the mapping's changes, only
          // dropping the dynamic field loses data callers name (the autoID change is refused above;
          // nullable, defaults, partition key, shards and description keep every field and key callers name).
          // Known from the request alone: no need to wait for the source schema (Preflight).
          if (body.options?.switchover && c.mapping?.dynamicField === false) {
            ctx.addIssue({
              code: 'custom',
              path: ['databases', i, 'collections', j, 'mapping', 'dynamicField'],
              message: `collection ${d.name}.${c.name}: switchover cannot be transparent when the mapping turns the dynamic field off: the target drops the dynamic keys that inserts, filters and output fields sent through the capture endpoint name (leave dynamicField out, or switchover off)`,
            });
          }
        }),
      );
    }
    repeated(databases.map((d) => d.name)).forEach((i) =>
      ctx.addIssue({ code: 'custom', path: ['databases', i, 'name'], message: `database ${databases[i].name} is named twice` }),
    );
    repeated(databases.map((d) => d.targetName ?? d.name)).forEach((i) =>
      ctx.addIssue({ code: 'custom', path: ['databases', i, 'targetName'], message: `target database ${databases[i].targetName ?? databases[i].name} is named twice` }),
    );
  })
  .transform((body) => ({
    ...body,
    databases: body.databases ?? (body.type === 'offline' ? [{ name: DEFAULT_DATABASE }] : []),
    options: JobOptions.parse(body.options ?? {}),
  }));
export type CreateMigrationBody = z.output<typeof CreateMigrationBody>;

/** The `Idempotency-Key` header of `POST /migrations`. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7E]{1,255}$/, 'must be 1 to 255 visible ASCII characters, such as a UUID');

/** Query of the routes that take none: any parameter is refused, so a typo is not silently ignored. */
export const NoQuery = z.strictObject({});

const pageQuery = (maxLimit: number) =>
  z.strictObject({
    limit: z
      .string()
      .regex(/^\d+$/, 'limit must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1, `limit must be 1 to ${maxLimit}`).max(maxLimit, `limit must be 1 to ${maxLimit}`))
      .optional(),
    nextToken: z.string().min(1).max(4096).optional(),
  });
/** Query of `GET /migrations`. */
export const ListMigrationsQuery = pageQuery(100);
/** Query of `GET /migrations/{id}/events`. */
export const ListEventsQuery = pageQuery(1000);
/** Query of `GET /migrations/{id}/collections`. */
export const ListCollectionsQuery = pageQuery(1000);

/** Job ids double as Step Functions execution names, so they follow that rule. */
export const JobIdParameter = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/, 'must be a job id such as mig-01J9Z3...');

/** Parses a request part; a mismatch is a ValidationError naming each bad field under `root`. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value, { error: requestErrorMap });
  if (result.success) return result.data;
  throw new ValidationError(result.error.issues.map((issue) => toFieldIssue(issue, root)));
}

const REQUIRED = 'is required';

function requestErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) return REQUIRED;
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  return undefined;
}

function toFieldIssue(issue: z.core.$ZodIssue, root: string): FieldIssue {
  const path = issue.path.length === 0 ? root : formatPath(root === 'body' ? issue.path : [root, ...issue.path]);
  const last = issue.path.length === 0 ? root : String(issue.path[issue.path.length - 1]);
  return { path, message: issue.message === REQUIRED ? `${last} ${REQUIRED}` : issue.message };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

/** Indexes of values already seen earlier in the list. */
function repeated(values: string[]): number[] {
  const seen = new Set<string>();
  return values.flatMap((value, i) => (seen.has(value) ? [i] : (seen.add(value), [])));
}
