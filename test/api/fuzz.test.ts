import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateMigrationBody, MAX_BODY_BYTES, matchResource } from '../../lib/api/requests';
import { offlineRequest, startApiFixture, type ApiFixture } from './support/apiFixture';

/**
 * Malformed and hostile requests on every route, through the real Lambda handler (and the local
 * HTTP server for body sizes) backed by DynamoDB Local: each answer is a 4xx whose message names
 * the problem, never a 5xx, and nothing is written.
 */
let api: ApiFixture;
let knownJobId: string;
let itemsAtStart: number;
let answered = 0;

beforeAll(async () => {
  api = await startApiFixture('fuzz');
  const created = await api.call('POST', '/migrations', offlineRequest({ collections: ['seed'] }));
  knownJobId = created.body.jobId;
  itemsAtStart = await countItems();
});

afterAll(async () => {
  await api?.close();
});

async function countItems(): Promise<number> {
  return (await api.scanTable()).length;
}

function event(method: string, path: string, options: { query?: Record<string, string>; body?: string | null; headers?: Record<string, string> } = {}): APIGatewayProxyEvent {
  const matched = matchResource(path);
  const query = options.query && Object.keys(options.query).length > 0 ? options.query : null;
  return {
    resource: matched?.resource ?? path,
    path,
    httpMethod: method,
    headers: options.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: query && Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    pathParameters: matched && Object.keys(matched.pathParameters).length > 0 ? matched.pathParameters : null,
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

/** Sends the request to the handler and checks the promise: a 4xx naming the problem, nothing written. */
async function expectRefused(request: APIGatewayProxyEvent, expected: { status?: number; mentions: string | RegExp }): Promise<void> {
  const starts = api.workflow.starts.length;
  const result = await api.handler(request, {} as Context);
  answered += 1;
  const body = JSON.parse(result.body);
  const where = `${request.httpMethod} ${request.path} ${JSON.stringify(request.queryStringParameters)} ${String(request.body).slice(0, 200)}`;
  expect(result.statusCode, where).toBeGreaterThanOrEqual(400);
  expect(result.statusCode, where).toBeLessThan(500);
  if (expected.status) expect(result.statusCode, where).toBe(expected.status);
  expect(body.error.message, where).toEqual(expect.any(String));
  if (typeof expected.mentions === 'string') expect(body.error.message, where).toContain(expected.mentions);
  else expect(body.error.message, where).toMatch(expected.mentions);
  expect(api.workflow.starts.length, where).toBe(starts);
  expect(await countItems(), where).toBe(itemsAtStart);
}

// ---- arbitraries ----

const valid = () => offlineRequest({ collections: ['books'] }) as Record<string, any>;
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }));
const notAnObject = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string(), fc.array(fc.string(), { maxLength: 3 }));
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('__proto__', 'constructor', "'; DROP TABLE jobs; --", '${jndi:ldap://x}', '../../etc/passwd', '\u0000', '\ud800', 'a'.repeat(5000)),
);
const refusedName = fc.oneof(
  fc.constantFrom('9lives', 'has-dash', 'with space', '', 'x'.repeat(256), 'émoji', 'a.b', '$meta', '_'.repeat(256)),
  hostile.filter((s) => !/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(s)),
);
const badUri = fc.oneof(
  fc.constantFrom('', ' ', 'javascript:alert(1)', 'host:99999', 'http://host/path', 'host:19530?x=1', 'ftp://host:21', 'host#frag', '-host:1', 'a b:1', 'h'.repeat(2049)),
  hostile.filter((s) => s.length === 0 || /[\s/?#]/.test(s) || /^[^A-Za-z0-9[]/.test(s)),
);
const unknownKey = fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !['type', 'source', 'target', 'databases', 'options', 'uri', 'token', 'username', 'password', 'secretArn', 'name', 'targetName', 'collections', 'indexPolicy', 'rowsPerShard', 'shardConcurrency', 'batchBytes', 'batchRows'].includes(k));

/** A valid body with one thing made wrong, and the field the answer must name. */
type Mutation = { body: unknown; mentions: string };
const mutations: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('type', 'source', 'target').map((field) => {
    const body = valid();
    delete body[field];
    return { body, mentions: `${field}: ` };
  }),
  fc.record({ field: fc.constantFrom('source', 'target'), value: notAString }).map(({ field, value }) => {
    const body = valid();
    body[field].uri = value;
    return { body, mentions: `${field}.uri` };
  }),
  fc.record({ field: fc.constantFrom('source', 'target'), uri: badUri }).map(({ field, uri }) => {
    const body = valid();
    body[field].uri = uri;
    return { body, mentions: `${field}.uri` };
  }),
  fc.record({ field: fc.constantFrom('source', 'target', 'databases', 'options'), value: notAnObject }).map(({ field, value }) => {
    const body = valid();
    body[field] = field === 'databases' ? value ?? 1 : value;
    return { body, mentions: field };
  }),
  fc.oneof(fc.string(), notAString).filter((t) => t !== 'offline' && t !== 'online').map((type) => ({ body: { ...valid(), type }, mentions: 'type' })),
  fc.record({ key: unknownKey, value: fc.jsonValue(), where: fc.constantFrom('body', 'source', 'options', 'databases[0]') }).map(({ key, value, where }) => {
    const body = valid();
    const host = where === 'body' ? body : where === 'databases[0]' ? body.databases[0] : (body[where] ??= {});
    Object.defineProperty(host, key, { value, enumerable: true, configurable: true, writable: true });
    return { body, mentions: `unknown field` };
  }),
  fc.record({ name: refusedName, at: fc.constantFrom('database', 'targetDatabase', 'collection', 'targetCollection') }).map(({ name, at }) => {
    const body = valid();
    const db = body.databases[0];
    if (at === 'database') db.name = name;
    if (at === 'targetDatabase') db.targetName = name;
    if (at === 'collection') db.collections[0].name = name;
    if (at === 'targetCollection') db.collections[0].targetName = name;
    const path = { database: 'databases[0].name', targetDatabase: 'databases[0].targetName', collection: 'databases[0].collections[0].name', targetCollection: 'databases[0].collections[0].targetName' }[at];
    return { body, mentions: path };
  }),
  fc
    .record({
      option: fc.constantFrom('rowsPerShard', 'shardConcurrency', 'batchBytes', 'indexPolicy'),
      value: fc.oneof(fc.integer({ min: -1_000_000, max: 0 }), fc.double({ noInteger: true, min: 0.01, max: 10 }), fc.constant(1e12), fc.string(), fc.constant(null)),
    })
    .map(({ option, value }) => ({ body: { ...valid(), options: { [option]: value } }, mentions: `options.${option}` })),
  fc.constantFrom<Mutation>(
    { body: { ...valid(), source: { uri: 'h:1', token: 't', password: 'p', username: 'u' } }, mentions: 'source: give either token' },
    { body: { ...valid(), target: { uri: 'h:1', username: 'u' } }, mentions: 'target: username and password go together' },
    { body: { ...valid(), source: { uri: 'h:1', secretArn: 'arn:nope' } }, mentions: 'source.secretArn' },
    { body: { ...valid(), databases: [{ name: 'a' }, { name: 'b' }] }, mentions: 'databases: an offline migration moves one database' },
    { body: { ...valid(), databases: [] }, mentions: 'databases' },
    { body: { ...valid(), databases: [{ name: 'a', collections: [] }] }, mentions: 'databases[0].collections' },
    { body: { ...valid(), databases: [{ name: 'a', collections: [{ name: 'x' }, { name: 'x' }] }] }, mentions: 'collection x is named twice' },
    { body: { ...valid(), databases: [{ name: 'a', collections: Array.from({ length: 10_001 }, (_, i) => ({ name: `c${i}` })) }] }, mentions: 'databases[0].collections' },
    { body: [], mentions: 'body' },
    { body: 'offline', mentions: 'body' },
    { body: 42, mentions: 'body' },
    { body: null, mentions: 'body' },
  ),
);

const notJson = fc.oneof(
  fc.string({ minLength: 1 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
  fc.constantFrom('{"type": "offline",', "{'type': 'offline'}", '{"a":1}}', 'undefined', 'NaN', '{"type":"offline"', '\u0000', '[1,2'),
);

const unknownJobId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/);
const badJobId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 100 }).filter((id) => !/^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/.test(id) && !id.includes('/')),
  fc.constantFrom('..', '.', '-leading-dash', 'a'.repeat(81), 'mig 1', 'mig%2F1', '\u0000', 'id;drop', '*'),
);
const jobRoutes = fc.constantFrom(
  { method: 'GET', path: (id: string) => `/migrations/${id}` },
  { method: 'GET', path: (id: string) => `/migrations/${id}/events` },
  { method: 'POST', path: (id: string) => `/migrations/${id}/cancel` },
);
const RESOURCES: Array<{ path: string; allowed: string[] }> = [
  { path: '/migrations', allowed: ['POST', 'GET'] },
  { path: '/migrations/mig-x', allowed: ['GET'] },
  { path: '/migrations/mig-x/events', allowed: ['GET'] },
  { path: '/migrations/mig-x/cancel', allowed: ['POST'] },
];
const anyMethod = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'), fc.stringMatching(/^[A-Z]{1,10}$/));
const badToken = fc.oneof(
  fc.string({ minLength: 1, maxLength: 200 }),
  fc.base64String({ minLength: 4, maxLength: 100 }),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
  fc.constantFrom(
    Buffer.from(JSON.stringify({ entity: 'JOB', createdAt: 'x' })).toString('base64url'),
    Buffer.from(JSON.stringify({ entity: 'JOB', createdAt: 'x', pk: 'JOB#a', sk: 'JOB', extra: 'y' })).toString('base64url'),
    Buffer.from(JSON.stringify({ pk: 'JOB#other', sk: 'EVENT#x' })).toString('base64url'),
    Buffer.from(JSON.stringify({ pk: { S: 'x' } })).toString('base64url'),
  ),
);

const RUNS = { bodies: 400, json: 100, methods: 100, paths: 60, ids: 150, queries: 150, keys: 40 };

describe('bad input on every route', () => {
  it('refuses malformed create bodies with 400 naming the field', async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async ({ body, mentions }) => {
        // Every generated body is invalid by construction; make sure of it.
        expect(CreateMigrationBody.safeParse(body).success).toBe(false);
        await expectRefused(event('POST', '/migrations', { body: JSON.stringify(body) }), { status: 400, mentions });
      }),
      { numRuns: RUNS.bodies },
    );
  });

  it('refuses bodies that are not JSON, with or without an Idempotency-Key', async () => {
    await fc.assert(
      fc.asyncProperty(notJson, fc.option(fc.uuid(), { nil: undefined }), async (body, key) => {
        const headers: Record<string, string> = key ? { 'Idempotency-Key': key } : {};
        await expectRefused(event('POST', '/migrations', { body, headers }), { status: 400, mentions: 'the request body is not valid JSON' });
      }),
      { numRuns: RUNS.json },
    );
  });

  it('refuses methods a route does not take with 405 naming the method', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...RESOURCES), anyMethod, async (resource, method) => {
        fc.pre(!resource.allowed.includes(method));
        await expectRefused(event(method, resource.path, { body: JSON.stringify(valid()) }), { status: 405, mentions: `${method} is not allowed` });
      }),
      { numRuns: RUNS.methods },
    );
  });

  it('answers 404 for paths that are no route', async () => {
    const paths = fc.oneof(
      fc.constantFrom('/', '/migration', '/MIGRATIONS', '/migrations/a/b/c', '/migrations/a/cancel/x', '/migrations//events', '/v1/migrations'),
      fc.webPath().filter((p) => matchResource(p) === undefined),
    );
    await fc.assert(
      fc.asyncProperty(paths, fc.constantFrom('GET', 'POST'), async (path, method) => {
        await expectRefused(event(method, path, { body: JSON.stringify(valid()) }), { status: 404, mentions: 'no route for' });
      }),
      { numRuns: RUNS.paths },
    );
  });

  it('answers 404 naming an unknown job id and 400 naming a malformed one, on every job route', async () => {
    await fc.assert(
      fc.asyncProperty(jobRoutes, fc.oneof(unknownJobId.map((id) => ({ id, known: true })), badJobId.map((id) => ({ id, known: false }))), async (route, { id, known }) => {
        fc.pre(id !== knownJobId);
        // API Gateway hands the decoded path parameter to the handler.
        const request = event(route.method, route.path('placeholder'));
        request.pathParameters = { id };
        request.path = route.path(encodeURIComponent(id));
        if (known) await expectRefused(request, { status: 404, mentions: `no job with id ${id}` });
        else await expectRefused(request, { status: 400, mentions: 'id: must be a job id' });
      }),
      { numRuns: RUNS.ids },
    );
  });

  it('refuses bad query strings on every route with 400 naming the parameter', async () => {
    const listing = fc.constantFrom({ path: '/migrations', max: 100 }, { path: () => `/migrations/${knownJobId}/events`, max: 1000 });
    const cases = fc.oneof(
      fc.record({ listing, limit: fc.oneof(fc.string().filter((s) => !/^\d+$/.test(s)), fc.constantFrom('0', '-1', '1.5', '1e3', '99999999999999999999', ' 5')) }).map(({ listing, limit }) => ({
        method: 'GET',
        path: typeof listing.path === 'string' ? listing.path : listing.path(),
        query: { limit },
        mentions: 'query.limit',
      })),
      fc.record({ listing, nextToken: badToken }).map(({ listing, nextToken }) => ({
        method: 'GET',
        path: typeof listing.path === 'string' ? listing.path : listing.path(),
        query: { nextToken },
        mentions: 'nextToken',
      })),
      fc
        .record({
          route: fc.constantFrom(
            { method: 'GET', path: () => '/migrations' },
            { method: 'POST', path: () => '/migrations' },
            { method: 'GET', path: () => `/migrations/${knownJobId}` },
            { method: 'GET', path: () => `/migrations/${knownJobId}/events` },
            { method: 'POST', path: () => `/migrations/${knownJobId}/cancel` },
          ),
          name: fc.string({ minLength: 1, maxLength: 30 }).filter((n) => n !== 'limit' && n !== 'nextToken'),
          value: fc.string({ maxLength: 30 }),
        })
        .map(({ route, name, value }) => ({ method: route.method, path: route.path(), query: { [name]: value }, mentions: `unknown field ${name}` })),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ method, path, query, mentions }) => {
        // A refused query must not let the body through: send a valid one along.
        const body = method === 'POST' && path === '/migrations' ? JSON.stringify(offlineRequest({ collections: ['fresh'] })) : null;
        await expectRefused(event(method, path, { query, body }), { status: 400, mentions });
      }),
      { numRuns: RUNS.queries },
    );
    expect((await api.jobs.get(knownJobId))?.status).toBe('PENDING'); // no query-refused cancel went through
  });

  it('refuses a malformed Idempotency-Key before anything is claimed', async () => {
    const badKey = fc.oneof(fc.constant(''), fc.string({ minLength: 256, maxLength: 300 }), fc.string().filter((k) => /[^\x21-\x7E]/.test(k)));
    await fc.assert(
      fc.asyncProperty(badKey, async (key) => {
        const body = JSON.stringify(offlineRequest({ collections: ['keyed'] }));
        await expectRefused(event('POST', '/migrations', { body, headers: { 'Idempotency-Key': key } }), { status: 400, mentions: 'Idempotency-Key' });
      }),
      { numRuns: RUNS.keys },
    );
  });

  it('refuses bodies over MAX_BODY_BYTES with 413, through the handler and through the HTTP server', async () => {
    const sizes = fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES * 3 });
    await fc.assert(
      fc.asyncProperty(sizes, fc.constantFrom('x', '{', 'é'), async (size, unit) => {
        const body = unit.repeat(Math.ceil(size / Buffer.byteLength(unit)));
        await expectRefused(event('POST', '/migrations', { body }), { status: 413, mentions: `larger than ${MAX_BODY_BYTES} bytes` });
        const answer = await api.call('POST', '/migrations', body);
        answered += 1;
        expect(answer.status).toBe(413);
        expect(answer.body.error.message).toContain(`larger than ${MAX_BODY_BYTES} bytes`);
        expect(await countItems()).toBe(itemsAtStart);
      }),
      { numRuns: 8 },
    );
  });

  it('sent at least 1,000 requests, and the table holds what it held before them', async () => {
    expect(answered).toBeGreaterThanOrEqual(1000);
    expect(await countItems()).toBe(itemsAtStart);
    expect(api.workflow.starts).toEqual([knownJobId]);
  });
});
